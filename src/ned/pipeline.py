"""``ned.edit``: one call from a clip to the edited clip.

analyse (background process, or cached) -> manipulate -> fit geometry -> render (warp) ->
composite -> encode, one streamed pass frame by frame, audio copied packet for packet.
Only the tracked face changes; frames without a valid face are passed through unchanged.
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ned.analysis import AnalysisConfig, analyze_to_file, file_hash
from ned.analysis.stream import LiveAnalysis, RowChunk, record_chunks
from ned.blendshapes import EMOTIONS
from ned.errors import NedError
from ned.io import probe
from ned.pipeline_plan import EditPlanner, FramePlan, PlanConfig
from ned.records import FaceTrack, load_fields
from ned.robust import GuardConfig

INTENSITY_RANGE = (0.0, 1.5)


@dataclass(frozen=True)
class EditConfig:
    """What to edit and how.

    Attributes:
        emotion: target emotion (one of ``ned.blendshapes.EMOTIONS``), or None with
            ``reference``.
        reference: a reference video whose expression style is transferred.
        intensity: 0 = the clip's own style, 1 = the target style, up to 1.5.
        start, end: seconds of the clip to edit (None = from the start / to the end).
        ramp: seconds over which the edit fades in and out at ``start`` / ``end``.
        face_index: which face to edit (0 = largest).
        seed: seed of the manipulator's latent in emotion mode.
        manipulator: a manipulator checkpoint (None = the shipped default).
        gain: factor on the edit's geometric displacement (how far the warp moves the
            face for a given expression change).
        mask_grow: face-mask growth in inter-ocular distances.
        mask_feather: face-mask feather in inter-ocular distances.
        blend_levels: Laplacian pyramid levels of the compositing.
        crf: x264 quality of the output (lower = better).
        use_cache: reuse a cached analysis of the same clip (content hash + options).
        guards: head-pose, gap, cut and eyelid guards.
        occlusion: keep occluded face pixels (hands, microphones) from the source.
        renderer: a neural renderer file (``ned train-renderer``); None = the train-free
            warp renderer.
    """

    emotion: str | None = None
    reference: str | None = None
    intensity: float = 1.0
    start: float | None = None
    end: float | None = None
    ramp: float = 0.3
    face_index: int = 0
    seed: int = 0
    manipulator: str | None = None
    gain: float = 1.0
    mask_grow: float = 0.06
    mask_feather: float = 0.12
    blend_levels: int = 4
    crf: int = 16
    use_cache: bool = True
    guards: GuardConfig = field(default_factory=GuardConfig)
    occlusion: bool = True
    renderer: str | None = None

    def check(self) -> None:
        """Raise NedError on inconsistent options."""
        if (self.emotion is None) == (self.reference is None):
            raise NedError("give exactly one of --emotion or --reference")
        if self.emotion is not None and self.emotion not in EMOTIONS:
            raise NedError(f"unknown emotion {self.emotion!r}; choose one of "
                           f"{', '.join(EMOTIONS)}")
        lo, hi = INTENSITY_RANGE
        if not lo <= self.intensity <= hi:
            raise NedError(f"intensity {self.intensity} is outside [{lo}, {hi}]")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise NedError(f"--end ({self.end}) must be after --start ({self.start})")
        if self.face_index < 0:
            raise NedError("face index must be >= 0")
        if self.ramp < 0:
            raise NedError("ramp must be >= 0")
        if not 0 <= self.gain <= 3:
            raise NedError(f"gain {self.gain} is outside [0, 3]")
        if not 0 <= self.crf <= 51:
            raise NedError(f"crf {self.crf} is outside [0, 51]")


@dataclass
class EditReport:
    """What an edit did.

    Attributes:
        output: the written clip.
        preview: the side-by-side preview, if written.
        frames: frames written.
        edited: frames whose face was changed.
        unfolded: edited frames whose edit was shrunk so no mesh triangle folds over.
        occluded: frames where part of the face was covered (kept from the source).
        passed: frames passed through, by reason.
        timings: seconds spent per stage.
    """

    output: Path
    preview: Path | None
    frames: int = 0
    edited: int = 0
    unfolded: int = 0
    occluded: int = 0
    passed: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        why = ", ".join(f"{k} {v}" for k, v in self.passed.items() if v) or "none"
        return (f"{self.output}: {self.frames} frames, {self.edited} edited; "
                f"passed through: {why}; partly occluded: {self.occluded}; "
                f"edits shrunk against folds: {self.unfolded}")


def cache_dir() -> Path:
    """Folder of cached analyses: $NED_CACHE_DIR, else ~/.cache/ned."""
    return Path(os.environ.get("NED_CACHE_DIR") or Path.home() / ".cache" / "ned")


def cache_entry(video: str | os.PathLike, config: AnalysisConfig) -> tuple[Path, bool]:
    """The cache file of a clip's analysis (key: the clip's sha256 and the analysis
    options) and whether a usable record is already there (a stale or foreign entry is
    removed)."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{file_hash(video)[:24]}-{config.key()}.npz"
    if path.exists():
        try:
            load_fields(path, ("valid",), kind=FaceTrack.KIND)
            return path, True
        except NedError:
            path.unlink()
    return path, False


def cached_analysis(video: str | os.PathLike, config: AnalysisConfig, workdir: str | os.PathLike,
                    *, use_cache: bool = True, progress: bool = False) -> Path:
    """Path of the clip's FaceTrack record, analysed now or found in the cache.

    Entries are written atomically, so an interrupted run leaves no broken entry. Without
    the cache the record is written into ``workdir``.
    """
    if not use_cache:
        path = Path(workdir) / f"track-{config.key()}-{Path(video).stem}.npz"
        analyze_to_file(video, path, config, progress)
        return path
    path, found = cache_entry(video, config)
    if not found:
        analyze_to_file(video, path, config, progress)
    return path


def cached_track(video: str | os.PathLike, config: AnalysisConfig | None = None, *,
                 use_cache: bool = True, progress: bool = False) -> FaceTrack:
    """The clip's whole FaceTrack (see :func:`cached_analysis`)."""
    with tempfile.TemporaryDirectory(prefix="ned-") as work:
        return FaceTrack.load(cached_analysis(video, config or AnalysisConfig(), work,
                                              use_cache=use_cache, progress=progress))


def analysis_rows(video: Path, config: AnalysisConfig, workdir: str | os.PathLike,
                  stack: ExitStack, use_cache: bool = True) -> Iterator[RowChunk]:
    """The clip's analysis rows: read from the cache, or produced by a background analysis
    (which also fills the cache) while the caller goes on.

    Args:
        video: the clip.
        config: analysis options.
        workdir: folder for the record when the cache is not used.
        stack: the background process is stopped when this stack closes.
        use_cache: read and fill the cache.

    Returns:
        An iterator of :class:`ned.analysis.stream.RowChunk`.
    """
    if use_cache:
        path, found = cache_entry(video, config)
        if found:
            return record_chunks(path)
    else:
        path = Path(workdir) / f"track-{config.key()}.npz"
    return iter(stack.enter_context(LiveAnalysis(video, path, config)))


def edit_weights(timestamps: np.ndarray, start: float | None, end: float | None,
                 ramp: float) -> np.ndarray:
    """Per-frame edit strength with smooth (raised-cosine) ramps at the range ends.

    Args:
        timestamps: (T,) seconds.
        start, end: edited range in seconds (None = open).
        ramp: ramp length in seconds (0 = hard switch).

    Returns:
        (T,) float32 in [0, 1].
    """
    t = np.asarray(timestamps, np.float64)
    w = np.ones_like(t)
    if start is not None:
        w = np.minimum(w, _ramp((t - start) / ramp if ramp > 0 else np.sign(t - start + 1e-9)))
    if end is not None:
        w = np.minimum(w, _ramp((end - t) / ramp if ramp > 0 else np.sign(end - t + 1e-9)))
    return w.astype(np.float32)


def _ramp(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


@contextmanager
def _sigint_as_interrupt() -> Iterator[None]:
    """Make SIGINT raise KeyboardInterrupt (so writers clean up) while editing."""
    try:
        old = signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


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


def _check_paths(video: Path, output: Path, preview: Path | None) -> None:
    if not video.is_file():
        raise NedError(f"no such file: {video}")
    for out in (output, preview):
        if out is None:
            continue
        if out.resolve() == video.resolve():
            raise NedError(f"output {out} is the input video; choose another path")
        if not out.parent.is_dir():
            raise NedError(f"output folder does not exist: {out.parent}")
        if not os.access(out.parent, os.W_OK):
            raise NedError(f"output folder is not writable: {out.parent}")
    if preview is not None and preview.resolve() == output.resolve():
        raise NedError("preview path equals the output path")


def edit(video: str | os.PathLike, output: str | os.PathLike, *,
         emotion: str | None = None, reference: str | os.PathLike | None = None,
         intensity: float = 1.0, start: float | None = None, end: float | None = None,
         face_index: int = 0, seed: int = 0, preview: str | os.PathLike | None = None,
         manipulator: str | os.PathLike | None = None, progress: bool = False,
         use_cache: bool = True, crf: int = 16, renderer: str | os.PathLike | None = None,
         gain: float = 1.0, config: EditConfig | None = None) -> EditReport:
    """Change the emotion of the tracked face of ``video`` and write ``output``.

    The analysis runs in a background process (or is read from the cache) while this
    process renders the frames already analysed: one streamed pass.

    Args:
        video: input clip.
        output: edited clip to write (never the input; written atomically).
        emotion: target emotion, one of neutral, angry, disgusted, fear, happy, sad,
            surprised; or
        reference: a clip whose expression style to transfer.
        intensity: strength in [0, 1.5].
        start, end: seconds to edit (smooth ramps in and out); None = whole clip.
        face_index: which face (0 = largest at the first confident frame).
        seed: seed of the emotion latent (same seed, same output).
        preview: also write original | edited side by side here.
        manipulator: a manipulator checkpoint (None = shipped default).
        progress: progress bars on stderr.
        use_cache: reuse cached analyses.
        crf: x264 quality of the output, 0 (lossless) to 51.
        renderer: a neural renderer trained with ``ned train-renderer`` (None = warp).
        gain: factor on the edit's geometric displacement (0 to 3).
        config: full options (overrides the keyword options above when given).

    Returns:
        An :class:`EditReport`.
    """
    from ned.pipeline_render import render_clip

    cfg = config or EditConfig(
        emotion=emotion, reference=None if reference is None else str(reference),
        intensity=float(intensity), start=start, end=end, face_index=face_index, seed=seed,
        manipulator=None if manipulator is None else str(manipulator), use_cache=use_cache,
        crf=int(crf), renderer=None if renderer is None else str(renderer), gain=float(gain))
    cfg.check()
    video, output = Path(video), Path(output)
    preview_path = Path(preview) if preview is not None else None
    _check_paths(video, output, preview_path)
    if cfg.reference is not None and not Path(cfg.reference).is_file():
        raise NedError(f"no such reference clip: {cfg.reference}")
    if cfg.renderer is not None and not Path(cfg.renderer).is_file():
        raise NedError(f"no such renderer file: {cfg.renderer}")
    info = probe(video)  # bad inputs fail here, before anything starts
    report = EditReport(output=output, preview=preview_path)
    with _sigint_as_interrupt(), tempfile.TemporaryDirectory(prefix="ned-") as work, \
            ExitStack() as stack:
        t0 = time.perf_counter()
        rows = analysis_rows(video, AnalysisConfig(face_index=cfg.face_index), work, stack,
                             cfg.use_cache)
        if cfg.renderer is None:
            stack.enter_context(_one_thread())
        if progress:
            rows = _counted(rows, stack.enter_context(
                tqdm(total=info.frame_count, unit="frame", desc="analyse", leave=False)))
        planner = make_planner(cfg, (info.width, info.height), info.fps, work, progress)
        report.timings["startup"] = time.perf_counter() - t0
        render_clip(video, output, planner.plans(rows), cfg, report, preview=preview_path,
                    progress=progress)
    return report


def plan_clip(video: str | os.PathLike, config: EditConfig) -> Iterator[FramePlan]:
    """What ``ned.edit`` would do to each frame, without rendering anything.

    Args:
        video: the clip (analysed, or read from the cache).
        config: edit options.

    Yields:
        One :class:`ned.pipeline_plan.FramePlan` per frame, in order (measured and edited
        landmarks, edit strength, why a frame is passed through).
    """
    config.check()
    info = probe(video)
    with tempfile.TemporaryDirectory(prefix="ned-") as work:
        track = cached_analysis(video, AnalysisConfig(face_index=config.face_index), work,
                                use_cache=config.use_cache)
        planner = make_planner(config, (info.width, info.height), info.fps, work)
        yield from planner.plans(record_chunks(track))


def _counted(rows: Iterator[RowChunk], bar: tqdm) -> Iterator[RowChunk]:
    """Pass chunks through, advancing a progress bar."""
    for c in rows:
        bar.update(len(c))
        yield c


def make_planner(cfg: EditConfig, size: tuple[int, int], fps: float,
                 workdir: str | os.PathLike, progress: bool = False) -> EditPlanner:
    """Load the manipulator, find the target style and build the edit's planner.

    Args:
        cfg: edit options.
        size: (width, height) of the clip.
        fps: its frame rate.
        workdir: folder for the reference's analysis when the cache is not used.
        progress: progress bars.
    """
    from ned.manipulator.infer import label_style, load_manipulator, reference_style

    manip = load_manipulator(cfg.manipulator)
    if cfg.reference is not None:
        ref_path = cached_analysis(cfg.reference, AnalysisConfig(), workdir,
                                   use_cache=cfg.use_cache, progress=progress)
        ref = load_fields(ref_path, ("blendshapes", "valid"), kind=FaceTrack.KIND)
        if not ref["valid"].any():
            raise NedError(f"the reference clip {cfg.reference} has no frame with a face")
        style = reference_style(manip, ref["blendshapes"], ref["valid"])
    else:
        style = label_style(manip, cfg.emotion, cfg.seed)
    plan = PlanConfig(intensity=cfg.intensity, start=cfg.start, end=cfg.end, ramp=cfg.ramp,
                      gain=cfg.gain)
    return EditPlanner(manip, style, plan, cfg.guards, size, fps)
