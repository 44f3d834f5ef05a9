"""The streamed second pass of ``ned.edit``: decode -> warp -> composite -> encode."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ned.analysis.mask import face_mask
from ned.composite.blend import composite_patch
from ned.composite.occlusion import OcclusionDetector, grow_occlusion
from ned.io import VideoWriter, WriteBehind, prefetch, probe, read_frames
from ned.pipeline_neural import load_frame_renderer
from ned.pipeline_plan import FramePlan
from ned.render.warp import WarpConfig, warp_patch
from ned.robust import unfold
from ned.topology import FACE_OVAL, inter_ocular


def edit_frame(image: np.ndarray, src: np.ndarray, dst: np.ndarray, *, grow: float,
               feather: float, levels: int, warp: WarpConfig | None = None,
               occluder: OcclusionDetector | None = None
               ) -> tuple[np.ndarray, tuple[int, int, int, int], bool]:
    """Move one frame's face from geometry ``src`` to ``dst`` and blend it in.

    Everything runs inside the warp's box; the rest of the frame is not touched.

    Args:
        image: (H, W, 3) uint8 frame.
        src: (478, 3) measured landmarks, pixels.
        dst: (478, 3) edited landmarks, pixels.
        grow: face-mask growth in inter-ocular distances.
        feather: mask feather in inter-ocular distances.
        levels: Laplacian pyramid levels.
        warp: warp options.
        occluder: occlusion detector of the track; occluded pixels (grown by the edit's
            largest displacement) keep the source's pixels.

    Returns:
        (frame, roi, occluded): (H, W, 3) uint8, identical to ``image`` outside the box
        ``roi`` = (x0, y0, x1, y1), and whether an occluder was found.
    """
    iod = float(inter_ocular(src))
    # only pixels the blend can use are warped: the mask's support and the pyramid's reach
    oval = src[list(FACE_OVAL), :2]
    margin = (grow + 2 * feather) * iod + 2 ** levels + 3
    lo, hi = np.floor(oval.min(0) - margin), np.ceil(oval.max(0) + margin)
    patch, roi = warp_patch(image, src, dst, warp, box=(*lo.astype(int), *hi.astype(int)))
    x0, y0, x1, y1 = roi
    if x1 <= x0 or y1 <= y0:
        return image, roi, False
    local = src - (x0, y0, 0)
    mask = face_mask(local, (y1 - y0, x1 - x0), dilate=max(1, round(grow * iod)),
                     feather=max(1, round(feather * iod)))
    occ = occluder(image, src, roi) if occluder is not None else None
    found = occ is not None and bool(occ.any())
    if found:
        reach = int(np.ceil(np.abs(dst[:, :2] - src[:, :2]).max())) + 2
        keep = grow_occlusion(occ, reach)
        mask = mask * ~keep
        patch[keep] = image[y0:y1, x0:x1][keep]
    return composite_patch(image, patch, mask, roi, levels), roi, found


def _warm_up(occluder: OcclusionDetector | None) -> None:
    """What the first frame would load (SciPy's Delaunay, the mesh, the hand model's first
    run: about 0.2 s), done now: on a first edit this process is waiting for the analysis
    process's first frames anyway."""
    import scipy.spatial  # noqa: F401 - the warp's ring triangulation

    from ned.render.warp import mesh_triangles

    mesh_triangles()
    if occluder is not None:
        occluder.warm_up()


def render_clip(video: Path, output: Path, plans: Iterator[FramePlan], cfg, report, *,
                preview: Path | None = None, progress: bool = False) -> None:
    """Write the edited clip (and optional preview), filling ``report``.

    Args:
        video: the source clip.
        output: the edited clip to write.
        plans: one :class:`ned.pipeline_plan.FramePlan` per frame, in order (frames past
            its end are copied).
        cfg: :class:`ned.pipeline.EditConfig`.
        report: :class:`ned.pipeline.EditReport` to fill.
        preview: also write original | edited side by side.
        progress: progress bar.
    """
    info = probe(video)
    timings = {"plan": 0.0, "render": 0.0, "encode": 0.0}
    passed = {"no face": 0, "outside range": 0, "pose": 0, "cut": 0}
    neural = load_frame_renderer(cfg.renderer)
    # the neural renderer composites by itself: the occlusion check serves the warp
    occluder = OcclusionDetector() if cfg.occlusion and neural is None else None
    last_rendered = -2
    # Each writer encodes on its own thread behind the render, with one x264 thread (less
    # contention with the analysis process than x264's frame threads). The frames given to
    # the encoder are deterministic; x264's bitstream is not quite: on a loaded 2-core
    # machine about 1 in 10 encodes of identical frames came out different (a few bytes
    # from some frame on, with one or automatic threads), so only lossless output (crf 0)
    # is bit-identical between runs.
    writers = [VideoWriter(output, like=video, audio_from=video if info.has_audio else None,
                           crf=cfg.crf, threads=1)]
    if preview is not None:
        writers.append(VideoWriter(preview, fps=info.rate, size=(2 * info.width, info.height),
                                   crf=cfg.crf + 4, threads=1))
    bar = tqdm(total=info.frame_count, unit="frame", desc="render", disable=not progress,
               leave=False, position=1)
    try:
        if neural is None:  # the warp's first frame
            _warm_up(occluder)
        for w in writers:
            w._open()
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
            if occluder is not None and plan is not None and plan.cut:
                occluder.reset()
            if plan is None or plan.src is None:
                passed["no face"] += 1
            elif plan.passed is not None:
                passed[plan.passed] += 1
            else:
                dst, shrunk = unfold(plan.src, plan.dst)
                report.unfolded += int(shrunk)
                if neural is not None:
                    if last_rendered != i - 1 or plan.cut:
                        neural.reset()  # a new run of face frames
                    out, changed = neural(frame.image, plan.src, dst, levels=cfg.blend_levels)
                    last_rendered = i
                else:
                    out, changed, occluded = edit_frame(
                        frame.image, plan.src, dst, occluder=occluder, grow=cfg.mask_grow,
                        feather=cfg.mask_feather, levels=cfg.blend_levels)
                    report.occluded += int(occluded)
                report.edited += 1
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
        if occluder is not None:
            occluder.close()
    report.passed = passed
    report.timings.update(timings)
