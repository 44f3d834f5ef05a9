"""The streamed pass of ``ned.edit``: decode -> render (any :class:`FrameRenderer`) ->
encode, one frame at a time, audio copied packet for packet."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ned.editing.config import EditReport, PassReason
from ned.editing.plan import FramePlan
from ned.editing.protocol import FrameRenderer
from ned.io import VideoWriter, WriteBehind, prefetch, probe, read_frames


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
    # contention with the analysis process than x264's frame threads). The frames given to
    # the encoder are deterministic; x264's bitstream is not quite: on a loaded 2-core
    # machine about 1 in 10 encodes of identical frames came out different (a few bytes
    # from some frame on, with one or automatic threads), so only lossless output (crf 0)
    # is bit-identical between runs.
    writers = [VideoWriter(output, like=video, audio_from=video if info.has_audio else None,
                           crf=crf, threads=1)]
    if preview is not None:
        writers.append(VideoWriter(preview, fps=info.rate, size=(2 * info.width, info.height),
                                   crf=crf + 4, threads=1))
    bar = tqdm(total=info.frame_count, unit="frame", desc="render", disable=not progress,
               leave=False, position=1)
    last_rendered = -2
    try:
        renderer.warm_up()
        for w in writers:
            w.open()
        writers = [WriteBehind(w) for w in writers]
        t_mark = time.perf_counter()
        for frame in prefetch(read_frames(video, yuv=True)):
            i = frame.index
            out, changed = frame.image, None
            plan = next(plans, None)
            t1 = time.perf_counter()
            timings["plan"] += t1 - t_mark
            if plan is not None and plan.index != i:
                raise RuntimeError(f"plan for frame {plan.index} given for frame {i}")
            if plan is None or plan.src is None:
                report.passed[PassReason.NO_FACE] += 1
            elif plan.passed is not None:
                report.passed[plan.passed] += 1
            else:
                if plan.cut or last_rendered != i - 1:
                    renderer.reset()
                result = renderer.render(frame.image, plan)
                out, changed = result.image, result.roi
                last_rendered = i
                report.edited += 1
                report.unfolded += int(plan.shrunk)
                report.occluded += int(result.occluded)
            t2 = time.perf_counter()
            timings["render"] += t2 - t1
            writers[0].write(out, frame.pts, source_yuv=frame.yuv, changed=changed)
            if preview is not None:
                writers[1].write(np.concatenate([frame.image, out], axis=1))
            t_mark = time.perf_counter()
            timings["encode"] += t_mark - t2
            report.frames += 1
            bar.update(1)
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
