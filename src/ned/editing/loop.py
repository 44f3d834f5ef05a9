"""The streamed pass of ``ned.edit``: decode -> render (any :class:`FrameRenderer`) ->
encode, one frame at a time, audio copied packet for packet.

Frames larger than 1080p (:data:`LARGE_FRAME`) go through on a face-sized crop when the
renderer allows it (a ``face_crop`` attribute that is True: its work stays inside a box
of twice the face's landmark box): the decoder's 4:2:0 planes are kept as they are, only
the crop around the face is converted to RGB (:func:`face_crop_box`,
:func:`ned.io.video.planes_to_rgb`), rendered with the plan moved into it, and written
back into the planes; nothing of the frame is held in RGB. Their queues are one frame
deep and x264 holds fewer frames (:data:`LARGE_LOOKAHEAD`, no B-pyramid).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ned.editing.config import EditReport, PassReason
from ned.editing.plan import FramePlan
from ned.editing.protocol import FrameRenderer
from ned.io import VideoWriter, WriteBehind, prefetch, probe, read_frames
from ned.io.stamp import current_stamp
from ned.io.video import planes_to_rgb

#: Frames of more pixels than 1080p are rendered on a crop, queued one deep (a 4K frame
#: is 37 MB in RGB and planes), decoded on one thread and encoded with a lookahead of
#: :data:`LARGE_LOOKAHEAD` frames and no B-frame kept as a reference.
LARGE_FRAME = 1920 * 1088
#: x264's lookahead for large frames (veryfast's is 10): at 4K each frame of it holds
#: about 25 MB; 5 keeps the encoder at about 390 MB instead of 510 (files within 2%).
#: Without veryfast's B-pyramid (``VideoWriter(b_pyramid=False)``) it holds one 4K
#: reference frame fewer: about 300 MB (files within 1%, PSNR within 0.05 dB).
LARGE_LOOKAHEAD = 5


def face_crop_box(src: np.ndarray, size: tuple[int, int],
                  scale: float = 2.0) -> tuple[int, int, int, int]:
    """The part of a frame a renderer of a ``face_crop`` works in: the landmarks' box
    grown ``scale`` times about its centre plus 16 pixels, inside the frame, its corners
    on whole chroma rows of 4:2:0 (x even, y a multiple of 4).

    Args:
        src: (478, 2+) landmarks, pixels.
        size: (width, height) of the frame (height a multiple of 4).
        scale: growth of the landmarks' box.

    Returns:
        (x0, y0, x1, y1).
    """
    w, h = size
    lo, hi = src[:, :2].min(0), src[:, :2].max(0)
    c, half = (lo + hi) / 2, (hi - lo) / 2 * scale + 16
    x0, y0 = (int(np.floor(v)) for v in np.maximum(c - half, 0))
    x1, y1 = (int(np.ceil(v)) for v in np.minimum(c + half, (w, h)))
    x0, y0 = x0 & ~1, y0 & ~3
    x1, y1 = min(w, (x1 + 1) & ~1), min(h, (y1 + 3) & ~3)
    return x0, y0, max(x1, x0 + 2), max(y1, y0 + 4)


def render_clip(video: Path, output: Path, plans: Iterator[FramePlan],
                renderer: FrameRenderer, *, crf: int, preview: Path | None = None,
                progress: bool = False) -> EditReport:
    """Write the edited clip (and optional preview).

    Args:
        video: the source clip.
        output: the edited clip to write (atomically).
        plans: one :class:`FramePlan` per frame, in order (frames past its end are copied).
        renderer: renders each edited frame.
        crf: x264 quality of the output.
        preview: also write original | edited side by side.
        progress: progress bar.

    Returns:
        The :class:`EditReport` (frames, edited, passed through by reason, timings).
    """
    info = probe(video)
    report = EditReport(output=output, preview=preview)
    timings = {"plan": 0.0, "render": 0.0, "encode": 0.0}
    # Each writer encodes on its own thread behind the render, with one x264 thread (less
    # contention with the analysis process than x264's frame threads; at 4K its frame
    # threads would also hold 250 MB more). The frames given to the encoder are
    # deterministic; x264's bitstream is not quite: on a loaded 2-core machine about 1 in
    # 10 encodes of identical frames came out different (a few bytes from some frame on,
    # with one or automatic threads), so only lossless output (crf 0) is bit-identical
    # between runs.
    large = info.width * info.height > LARGE_FRAME
    lookahead = LARGE_LOOKAHEAD if large else None
    writers = [VideoWriter(output, like=video, audio_from=video if info.has_audio else None,
                           crf=crf, threads=1, lookahead=lookahead, b_pyramid=not large)]
    if preview is not None:
        writers.append(VideoWriter(preview, fps=info.rate, size=(2 * info.width, info.height),
                                   crf=crf + 4, threads=1, lookahead=lookahead,
                                   b_pyramid=not large))
    bar = tqdm(total=info.frame_count, unit="frame", desc="render", disable=not progress,
               leave=False, position=1)
    last_rendered = -2
    try:
        renderer.warm_up()
        for w in writers:
            w.open()
        stamp = current_stamp()
        crop = (large and preview is None and getattr(renderer, "face_crop", False)
                and writers[0].takes_planes and not (stamp is not None and stamp.mark))
        depth = 1 if large else 4
        writers = [WriteBehind(w, depth=depth) for w in writers]
        t_mark = time.perf_counter()
        frames = read_frames(video, yuv=True, rgb=not crop, threads=1 if large else 0)
        for frame in prefetch(frames, depth=depth):
            i = frame.index
            out, changed, origin = frame.image, None, None
            plan = next(plans, None)
            t1 = time.perf_counter()
            timings["plan"] += t1 - t_mark
            if plan is not None and plan.index != i:
                raise RuntimeError(f"plan for frame {plan.index} given for frame {i}")
            report.reached.append(0.0)
            if plan is None or plan.src is None:
                report.passed[PassReason.NO_FACE] += 1
            elif plan.passed is not None:
                report.passed[plan.passed] += 1
            else:
                if plan.cut or last_rendered != i - 1:
                    renderer.reset()
                if frame.image is None:  # on the face's crop
                    box = face_crop_box(plan.src, (info.width, info.height))
                    off = np.array([box[0], box[1], 0], np.float32)
                    result = renderer.render(planes_to_rgb(frame.yuv, box),
                                             replace(plan, src=plan.src - off,
                                                     dst=plan.dst - off))
                    r, origin = result.roi, box[:2]
                    changed = (r[0] + box[0], r[1] + box[1], r[2] + box[0], r[3] + box[1])
                else:
                    result = renderer.render(frame.image, plan)
                    changed = result.roi
                out = result.image
                if changed[2] <= changed[0] or changed[3] <= changed[1]:
                    changed = None
                last_rendered = i
                report.edited += 1
                report.unfolded += int(plan.shrunk)
                report.occluded += int(result.occluded)
                report.reached[-1] = plan.reached
                for limit in plan.limits:
                    report.limited[limit] += 1
            t2 = time.perf_counter()
            timings["render"] += t2 - t1
            writers[0].write(out, frame.pts, source_yuv=frame.yuv, changed=changed,
                             origin=origin, consume=True)
            if preview is not None:
                writers[1].write(np.concatenate([frame.image, annotate(out, plan)], axis=1))
            t_mark = time.perf_counter()
            timings["encode"] += t_mark - t2
            report.frames += 1
            bar.update(1)
        for _ in plans:  # the analysis must end cleanly too: an error it reports after its
            pass         # last row (a face index past the clip's faces) is raised here
        t1 = time.perf_counter()
        for w in writers:
            w.close()
        timings["encode"] += time.perf_counter() - t1
    except BaseException:
        for w in writers:
            w.abort()
        raise
    finally:
        bar.close()
        renderer.close()
    report.timings.update(timings)
    return report


def annotate(image: np.ndarray, plan: FramePlan | None) -> np.ndarray:
    """A copy of an edited frame with how much of the target it shows drawn at its foot:
    a bar (green: all of it, amber: cut back, grey: passed through) and the reasons.

    Args:
        image: (H, W, 3) uint8 frame.
        plan: its plan (None: no plan, passed through).

    Returns:
        (H, W, 3) uint8.
    """
    import cv2

    out = image.copy()
    h, w = out.shape[:2]
    bar = max(2, h // 60)
    if plan is None or plan.passed is not None or plan.src is None:
        text, colour, share = f"passed: {plan.passed if plan else 'no face'}", (128,) * 3, 1.0
    else:
        text = f"target {plan.reached:.0%}" + (
            f" ({', '.join(map(str, plan.limits))})" if plan.limits else "")
        colour = (40, 200, 60) if plan.reached >= 0.995 else (240, 170, 20)
        share = plan.reached
    out[h - bar:, :] //= 3
    out[h - bar:, :max(1, int(round(share * w)))] = colour
    scale = max(0.3, h / 900)
    cv2.putText(out, text, (4, h - bar - 4), cv2.FONT_HERSHEY_SIMPLEX, scale, colour,
                max(1, int(round(2 * scale))), cv2.LINE_AA)
    return out
