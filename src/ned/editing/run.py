"""Running an edit: analyse (background process, or cached) -> manipulate -> fit geometry
-> render -> composite -> encode, one streamed pass frame by frame, audio copied packet for
packet. Only the tracked face changes; frames without a valid face pass through unchanged.

:func:`ned.edit` (``ned.editing.api``) builds the config and calls :func:`run_edit`.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ned.analysis import AnalysisConfig
from ned.analysis.cache import analysis_rows, cached_analysis, usable_cache_dir
from ned.analysis.occlusion import OcclusionConfig
from ned.analysis.stream import LiveAnalysis, RowChunk, record_chunks
from ned.atomic import temp_dir
from ned.blendshapes import INTENSITY_RANGE
from ned.editing.calibrate import (
    Calibration,
    CalibrationConfig,
    cache_file,
    cache_key,
    calibrate,
    geometric_goals,
    label_goals,
    load_cached,
    reference_goals,
    store,
)
from ned.editing.config import EditConfig, EditReport, source_crf
from ned.editing.loop import LARGE_FRAME, face_crop_box, render_clip
from ned.editing.plan import EditPlanner, FramePlan
from ned.editing.renderers import make_renderer
from ned.errors import NedError, signals_as_interrupt, warn
from ned.io import probe, read_frames
from ned.io.stamp import OutputStamp, stamped
from ned.io.video import VideoInfo, check_video_output, planes_to_rgb
from ned.records import FaceTrack, load_fields


def run_edit(video: str | os.PathLike, output: str | os.PathLike, config: EditConfig, *,
             preview: str | os.PathLike | None = None, progress: bool = False,
             mark: str | None = None) -> EditReport:
    """Edit ``video`` into ``output`` as ``config`` says (see :func:`ned.edit`).

    Every output carries container metadata naming the tool, its version and the edit
    (:func:`provenance`); with ``mark`` that text is also drawn on every frame.

    A timeline's edit reads the whole analysis first (from the cache, or analysed now):
    its shot cuts decide where nothing is interpolated.

    Args:
        video: input clip.
        output: edited clip to write (never the input; written atomically).
        config: every option.
        preview: also write original | edited side by side here.
        progress: progress bars on stderr.
        mark: a visible mark drawn on every frame of the outputs (None: none).

    Returns:
        An :class:`EditReport`.
    """
    if not isinstance(config, EditConfig):
        raise NedError("config must be an EditConfig")
    video, output = Path(video), Path(output)
    preview_path = Path(preview) if preview is not None else None
    check_inputs(video, output, preview_path, config)
    info = probe(video)  # bad inputs fail here, before anything starts
    check_range(config, info)
    if info.width * info.height > LARGE_FRAME:
        frame_sized_heap()
    cpu0 = time.process_time()
    with signals_as_interrupt(), temp_dir() as work, ExitStack() as stack:
        t0 = time.perf_counter()
        analysis = edit_analysis(config)
        curves = None
        if config.target.timeline is not None:
            track = cached_analysis(video, analysis, work, use_cache=config.use_cache,
                                    progress=progress)
            curves = timeline_curves(config, track, info)
            source = record_chunks(track)
        else:
            source = analysis_rows(video, analysis, work, stack, config.use_cache)
        live = source if isinstance(source, LiveAnalysis) else None
        rows: Iterable[RowChunk] = source
        occlusion = None
        if analysis.occlusion is not None:
            from ned.composite.occlusion import TrackOcclusion

            occlusion = TrackOcclusion(analysis.occlusion)
            rows = occlusion.tap(rows)
        frame_renderer = make_renderer(config.resolved_render, occlusion=occlusion)
        if config.target.gaze:
            from ned.editing.gaze import GazeRenderer

            frame_renderer = GazeRenderer(frame_renderer)
        if frame_renderer.single_thread:
            stack.enter_context(_one_thread())
        if progress:
            rows = _counted(rows, stack.enter_context(
                tqdm(total=info.frame_count, unit="frame", desc="analyse", leave=False)))
        planner = make_planner(config, (info.width, info.height), info.fps, work, progress,
                               video=video, curves=curves)
        startup = time.perf_counter() - t0
        with stamped(provenance(config, mark)):
            report = render_clip(video, output, planner.plans(rows), frame_renderer,
                                 crf=output_crf(config, info), preview=preview_path,
                                 progress=progress)
    report.timings["startup"] = startup
    # how the two processes shared the work: CPU seconds of each, and the seconds each
    # waited for the other (the edit for rows, the analysis for the edit to take them)
    report.timings["edit_cpu"] = time.process_time() - cpu0
    if live is not None:
        report.timings["edit_waited"] = live.waited
        if live.summary is not None:
            report.timings["analysis_cpu"] = live.summary.cpu
            report.timings["analysis_waited"] = live.summary.waited
            report.timings["hand_searches"] = float(live.summary.hand_searches)
    cals = getattr(planner, "calibrations", None)
    if cals is None:
        cals = {} if planner.calibration is None else {"": planner.calibration}
    for name, cal in cals.items():
        prefix = f"{name}: " if len(cals) > 1 else ""
        report.calibration.update({
            prefix + g: {"gain": cal.gains[g], "level": cal.levels[g],
                         **({"target": cal.targets[g]} if g in cal.targets
                            else {"ceiling": cal.ceilings[g]})}
            for g in sorted(set(cal.targets) | set(cal.ceilings)) if g in cal.levels})
        report.timings["calibrate"] = report.timings.get("calibrate", 0.0) + cal.seconds
    return report


def output_crf(config: EditConfig, info: VideoInfo) -> int:
    """The output's x264 crf: the edit's own, else one that keeps a finely coded source's
    detail (``config.source_crf`` of the source's bits per pixel)."""
    return config.crf if config.crf is not None else source_crf(info.bits_per_pixel)


def provenance(config: EditConfig, mark: str | None = None) -> OutputStamp:
    """What every output of an edit says about itself: ``comment`` (every container) is
    one line naming the tool, its version and the edit; ``description`` (MP4, M4V,
    Matroska, WebM) the same as JSON; ``mark`` is drawn on every frame if given."""
    import json

    from ned import __version__

    t, r = config.target, config.range
    edit = {"emotion": t.emotion,
            "reference": Path(t.reference).name if t.reference else None,
            "intensity": t.intensity, "controls": dict(t.adjust),
            "timeline": t.timeline.to_json() if t.timeline is not None else None,
            "start": r.start, "end": r.end, "face_index": config.face_index}
    line = (f"Edited with ned {__version__} (Neural Emotion Director): face "
            f"{config.face_index}, {t.describe()}"
            + (f", from {r.start:g} s" if r.start is not None else "")
            + (f", until {r.end:g} s" if r.end is not None else ""))
    meta = {"comment": line,
            "description": json.dumps({"tool": "ned", "version": __version__,
                                       "edit": edit}, sort_keys=True)}
    return OutputStamp(meta, mark)


def timeline_curves(config: EditConfig, track: str | os.PathLike, info: VideoInfo):
    """The config's timeline evaluated on the frames of a clip's analysis record (its
    timestamps and shot cuts): :class:`ned.editing.timeline.Curves`."""
    f = load_fields(track, ("timestamps", "cuts"), kind=FaceTrack.KIND)
    return config.target.timeline.evaluate(np.asarray(f["timestamps"], np.float64),
                                           np.asarray(f["cuts"], int).tolist(),
                                           info.duration)


def plan_clip(video: str | os.PathLike, config: EditConfig) -> Iterator[FramePlan]:
    """What ``ned.edit`` would do to each frame (calibrated as it would be), without
    rendering the clip.

    Args:
        video: the clip (analysed, or read from the cache).
        config: edit options.

    Yields:
        One :class:`ned.editing.plan.FramePlan` per frame, in order (measured and edited
        landmarks, edit strength, why a frame is passed through).
    """
    info = probe(video)
    check_range(config, info)
    with temp_dir() as work:
        track = cached_analysis(video, edit_analysis(config), work,
                                use_cache=config.use_cache)
        curves = (timeline_curves(config, track, info)
                  if config.target.timeline is not None else None)
        planner = make_planner(config, (info.width, info.height), info.fps, work,
                               video=video, curves=curves)
        yield from planner.plans(record_chunks(track))


def edit_analysis(config: EditConfig) -> AnalysisConfig:
    """The analysis an edit reads (one cache entry serves every edit of the clip): the
    tracked face, and what covers it unless the edit keeps no occluded pixels."""
    return AnalysisConfig(face_index=config.face_index,
                          occlusion=OcclusionConfig() if config.render.occlusion else None)


def make_planner(config: EditConfig, size: tuple[int, int], fps: float,
                 workdir: str | os.PathLike, progress: bool = False,
                 video: str | os.PathLike | None = None, curves=None) -> EditPlanner:
    """Load the manipulator, find the target style and build the edit's planner.

    Args:
        config: edit options.
        size: (width, height) of the clip.
        fps: its frame rate.
        workdir: folder for the reference's analysis when the cache is not used.
        progress: progress bars.
        video: the clip, to calibrate the edit on (None or ``config.render.calibrate``
            False: no calibration, the start gains).
        curves: the timeline evaluated on the clip's frames
            (:func:`timeline_curves`; needed when the config has a timeline).
    """
    if config.target.directed:
        return _directed_planner(config, size, fps, workdir, progress, video, curves)
    from ned.facemodel.fields import field_offsets
    from ned.manipulator.infer import label_style, load_manipulator, reference_style

    target = config.target
    manip = load_manipulator(target.manipulator)
    if target.reference is not None:
        ref_path = cached_analysis(target.reference, AnalysisConfig(), workdir,
                                   use_cache=config.use_cache, progress=progress)
        ref = load_fields(ref_path, ("blendshapes", "valid"), kind=FaceTrack.KIND)
        if not ref["valid"].any():
            raise NedError(f"the reference clip {target.reference} has no frame with a face")
        style = reference_style(manip, ref["blendshapes"], ref["valid"])
        goals = (*reference_goals(ref["blendshapes"], ref["valid"]), {})
        raised = reference_goals(ref["blendshapes"], ref["valid"], with_geometric=True)[0]
    else:
        style = label_style(manip, target.emotion, target.seed)
        goals = (*label_goals(target.emotion), geometric_goals(target.emotion))
        raised = None
    field_offsets()  # built now, while a first edit waits for its first rows
    calibrate = None
    if video is not None and config.render.calibrate:
        calibrate = ClipCalibration(video, config, goals, manip.path)
    return EditPlanner(manip, style, config, size, fps, calibrate=calibrate, raised=raised)


def _directed_planner(config: EditConfig, size: tuple[int, int], fps: float,
                      workdir: str | os.PathLike, progress: bool,
                      video: str | os.PathLike | None, curves) -> EditPlanner:
    """A :class:`ned.editing.direct.DirectedPlanner`: one plain planner per target shown
    (emotion or reference at an intensity), the controls on top."""
    from ned.editing.direct import DirectedPlanner, Direction
    from ned.manipulator.infer import load_manipulator

    t = config.target
    plain = dict(adjust=(), timeline=None, emotion=None, reference=None)
    if t.timeline is None:
        targets = ([] if t.emotion is None and t.reference is None else
                   [config.replace(**{**plain, "emotion": t.emotion,
                                      "reference": t.reference})])
        direction = Direction.constant(t.adjust)
    else:
        if curves is None:
            raise ValueError("a timeline's planner needs its curves (timeline_curves)")
        lo, hi = INTENSITY_RANGE
        targets = [config.replace(**{**plain, "emotion": e,
                                     "intensity": float(np.clip(i * t.intensity, lo, hi))})
                   for e, i in curves.targets]
        direction = Direction.from_curves(replace(curves, controls=np.clip(
            curves.controls + Direction.constant(t.adjust).controls, -1, 1)))
    parts = [make_planner(c, size, fps, workdir, progress, video) for c in targets]
    manip = parts[0].manip if parts else load_manipulator(t.manipulator)
    return DirectedPlanner(parts, direction, config, size, fps, manip=manip)


class ClipCalibration:
    """The planner's calibration hook for one clip: the cached gains, or the loop of
    :func:`ned.editing.calibrate.calibrate` on frames decoded from ``video``.

    Args:
        video: the clip.
        config: the edit's options.
        goals: (targets, ceilings, geometric floors) of the loop.
        manipulator: the manipulator's checkpoint (part of the cache key).
    """

    def __init__(self, video: str | os.PathLike, config: EditConfig,
                 goals: tuple[dict[str, float], dict[str, float], dict[str, float]],
                 manipulator: Path) -> None:
        self.video, self.config, self.goals = Path(video), config, goals
        self.manipulator = manipulator

    def _key(self) -> str:
        from ned.analysis.analyze import file_hash

        t, r = self.config.target, self.config.render
        weights = self.manipulator.with_suffix(".safetensors")
        return cache_key({
            "clip": file_hash(self.video), "face": self.config.face_index,
            "emotion": t.emotion, "seed": t.seed,
            "reference": file_hash(t.reference) if t.reference else None,
            "manipulator": file_hash(weights) if weights.is_file() else str(weights),
            "render": [r.gain, r.mask_grow, r.mask_feather, r.blend_levels],
            "cues": list(self.config.cues) if r.renderer is None else None,
            "goals": self.goals, "guards": self.config.guards})

    def __call__(self, planner: EditPlanner) -> Calibration:
        folder = usable_cache_dir() if self.config.use_cache else None
        path = cache_file(folder, self._key()) if folder is not None else None
        cached = load_cached(path) if path is not None and path.exists() else None
        if cached is not None and not _sane(cached):
            warn(f"cached calibration {path.name} is damaged; calibrating again")
            cached = None
        if cached is not None:
            return replace(cached, seconds=0.0)
        frames = planner.sample_frames(CalibrationConfig().frames)
        images = calibration_images(self.video, frames, planner)
        targets, ceilings, geometric = self.goals
        result = calibrate(planner, images, targets, ceilings, self.config,
                           geometric=geometric)
        del images
        release_memory()
        if path is not None:
            store(path, result)
        return result


def calibration_images(video: str | os.PathLike, frames: np.ndarray,
                       planner: EditPlanner) -> dict[int, np.ndarray]:
    """The frames the calibration warps, by index. A large frame (more pixels than 1080p)
    is decoded on one thread and converted to RGB only on its face's crop
    (:func:`ned.editing.loop.face_crop_box`, all the calibration reads), the rest of it
    zeros that are never written (so never resident: six 4K frames held 150 MB)."""
    info = probe(video)
    wanted = set(np.asarray(frames).tolist())
    stop = int(max(wanted)) + 1
    if info.width * info.height <= LARGE_FRAME:
        return {f.index: f.image for f in read_frames(video, stop=stop) if f.index in wanted}
    order = np.asarray(sorted(wanted))
    src, _ = planner.sample_geometry(order, planner.initial_gains())
    boxes = {int(i): face_crop_box(p, (info.width, info.height)) for i, p in zip(order, src)}
    images = {}
    for f in read_frames(video, stop=stop, yuv=True, rgb=False, threads=1):
        if f.index not in boxes:
            continue
        if f.image is not None:
            images[f.index] = f.image
            continue
        x0, y0, x1, y1 = boxes[f.index]
        image = np.zeros((info.height, info.width, 3), np.uint8)
        image[y0:y1, x0:x1] = planes_to_rgb(f.yuv, boxes[f.index])
        images[f.index] = image
    return images


#: Blocks of at least this many bytes are mapped on their own and unmapped when freed, in
#: a process that edits frames larger than 1080p (:func:`frame_sized_heap`).
HEAP_BLOCK_LIMIT = 1 << 20


def frame_sized_heap() -> None:
    """Have glibc's ``malloc`` map every block of :data:`HEAP_BLOCK_LIMIT` bytes or more
    on its own and give free memory at the heap's top back above that much (``mallopt``;
    nothing elsewhere), for the rest of the process: what the analysis process gets from
    its environment (:class:`ned.analysis.stream.LiveAnalysis`). By default glibc's mmap
    threshold rises to the size of the first large block freed (a 4K frame's 12 or 25 MB),
    after which the frames of the decoder, the render, the writer and the calibration's
    warps are carved from the heaps of several threads' arenas and much of it stays
    resident: a first edit of a 4K clip peaked about 95 MB higher before the edit's other
    savings, 50-65 MB after them (3 s clip: 783 MB instead of 835-849; a limit of a luma
    plane's size, 8.3 MB, 810 MB; 16 or 32 MB, no gain). The cost is the pages of every
    large block faulted in afresh: with the analysis cached, 0.87 M page faults instead of
    0.22 M, 3 s more system time over 90 frames (CPU +6%; wall time 21.2 s against 20.8 s,
    medians of 4 alternating runs on a loaded 2-core machine, within its noise)."""
    import ctypes

    m_trim_threshold, m_mmap_threshold = -1, -3  # malloc.h
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(m_mmap_threshold, HEAP_BLOCK_LIMIT)
        libc.mallopt(m_trim_threshold, HEAP_BLOCK_LIMIT)
    except (OSError, AttributeError):
        pass


def release_memory() -> None:
    """Give the C heap's free memory back to the system (glibc's ``malloc_trim``; nothing
    elsewhere): what the calibration's frames and full-size warps of a 4K clip freed,
    before the encoder fills up."""
    import ctypes

    try:
        ctypes.CDLL(None).malloc_trim(0)  # (find_library would fork a helper)
    except (OSError, AttributeError):
        pass


def _sane(cal: Calibration) -> bool:
    """Whether a cached calibration holds finite, non-negative gains by group name."""
    try:
        return all(isinstance(g, str) and isinstance(v, (int, float)) and math.isfinite(v)
                   and v >= 0 for g, v in cal.gains.items())
    except AttributeError:
        return False


def _check_file(path: Path | str, noun: str) -> None:
    p = Path(path)
    if p.is_dir():
        raise NedError(f"{p} is a folder, not a {noun}")
    if not p.is_file():
        raise NedError(f"no such {noun}: {p}")


def check_inputs(video: Path, output: Path, preview: Path | None, config: EditConfig) -> None:
    """Raise NedError for an input that is missing (or a folder), or an output that cannot
    be written, would replace an input, or is a container ned cannot write."""
    _check_file(video, "video file")
    t, r = config.target, config.render
    inputs = (video, t.reference, t.manipulator, r.renderer)
    for out, what in ((output, "output"), (preview, "preview")):
        if out is not None:
            check_video_output(out, inputs=inputs, what=what)
    if preview is not None and preview.resolve() == output.resolve():
        raise NedError("preview path equals the output path")
    if t.reference is not None:
        _check_file(t.reference, "reference clip")
    if r.renderer is not None:
        _check_file(r.renderer, "renderer file")


def check_range(config: EditConfig, info: VideoInfo) -> None:
    """Raise NedError for a time range that edits nothing of this clip (its times count
    from the first frame, as players show them)."""
    start = config.range.start
    if start is not None and start >= info.duration:
        raise NedError(f"--start {start:g} s is at or past the end of the clip "
                       f"({info.duration:.2f} s long); nothing would be edited")


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run BLAS, OpenCV (and torch, if a caller loaded it) on one thread inside the block.

    The edit's arrays are small (a face box, a batch of windows): more threads gain little,
    and idle BLAS / OpenMP workers spin-wait after each call, taking a core from the
    analysis process (measured: a first edit of a 20 s 640x360 clip 14.7 s -> 11.3 s with
    one torch thread; OpenCV on one thread: 5% less CPU for the same time).
    """
    import sys

    import cv2
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    old = torch.get_num_threads() if torch is not None else None
    old_cv = cv2.getNumThreads()
    if torch is not None:
        torch.set_num_threads(1)
    cv2.setNumThreads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        cv2.setNumThreads(old_cv)
        if torch is not None:
            torch.set_num_threads(old)


def _counted(rows: Iterator[RowChunk], bar: Any) -> Iterator[RowChunk]:
    """Pass chunks through, advancing a progress bar."""
    for c in rows:
        bar.update(len(c))
        yield c
