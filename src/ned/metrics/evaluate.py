"""Evaluate an edited clip against its source: one streamed pass over both videos.

Both clips are analysed (``ned.analysis.analyze``), then decoded in lockstep, one frame pair
at a time (never a whole clip in memory), feeding the pixel metrics, the emotion classifier
and the identity embedder. The result is an :class:`EvaluationReport`, a frozen record of
typed score groups; its :meth:`~EvaluationReport.to_json` is the JSON report of
``ned evaluate``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from ned.analysis import analyze
from ned.analysis.cache import cached_track
from ned.blendshapes import EMOTIONS
from ned.errors import NedError, warn
from ned.io.video import VideoInfo, probe, read_frames
from ned.metrics import emotion as emo
from ned.metrics import identity as idm
from ned.metrics.expression import ExpressionScores, expression_scores
from ned.metrics.jsonable import FlatRecord, clean
from ned.metrics.pixel import PixelAccumulator, PixelConfig, PixelScores
from ned.metrics.speech import SpeechScores, TemporalScores, speech_metrics, temporal_metrics
from ned.records import FaceTrack


@dataclass(frozen=True)
class EvalConfig:
    """Options of :func:`evaluate`.

    Attributes:
        target: the emotion the edit aimed at (one of ``EMOTIONS``) or None.
        identity: compute identity metrics; None = when the extra is installed.
        identity_stride: embed every n-th frame (1 = all).
        emotion: run the emotion classifier.
        classifier: which one (``ned.metrics.emotion.CLASSIFIERS``; default ``faceapi``).
        segment_seconds: length of the segments in the per-segment emotion summary.
        use_cache: take the source's analysis from the analysis cache (written there
            if missing); the edited clip is always analysed afresh.
        pixel: pixel-metric options.
    """

    target: str | None = None
    identity: bool | None = None
    identity_stride: int = 1
    emotion: bool = True
    classifier: str = emo.DEFAULT_CLASSIFIER
    segment_seconds: float = 1.0
    use_cache: bool = True
    pixel: PixelConfig = field(default_factory=PixelConfig)

    def __post_init__(self) -> None:
        if self.target is not None and self.target not in EMOTIONS:
            raise NedError(f"unknown target emotion {self.target!r}; choose from "
                           f"{', '.join(EMOTIONS)}")
        emo.check_classifier(self.classifier)
        if self.identity_stride < 1:
            raise NedError(f"identity stride must be >= 1, got {self.identity_stride}")
        if self.segment_seconds <= 0:
            raise NedError("segment length must be > 0 seconds")

    def to_json(self) -> dict[str, Any]:
        """The options as a dict (``pixel`` nested), keys in field order."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EvalConfig:
        """Inverse of :meth:`to_json` (validated as the constructor does)."""
        return cls(**{**data, "pixel": PixelConfig(**data["pixel"])})


@dataclass(frozen=True)
class FrameCounts(FlatRecord):
    """A number of frames per clip: ``source`` and ``edited``."""

    source: int
    edited: int


@dataclass(frozen=True)
class IdentityScores(FlatRecord):
    """Identity metrics on dlib face-recognition embeddings, over the frames embedded in
    both clips; the distances are None with fewer than 2 such frames.

    Attributes:
        distance_mean, distance_max: per-frame Euclidean distance of the embeddings.
        frechet: Frechet distance of the two embedding sets (the FID formula).
        frames: number of frames used.
    """

    distance_mean: float | None
    distance_max: float | None
    frechet: float | None
    frames: int


@dataclass(frozen=True)
class EmotionSegment(FlatRecord):
    """One segment of the per-segment emotion summary (:func:`segments`).

    Attributes:
        start, end: timestamps (s) of the segment's first and last frame.
        frames: frames in the segment (with or without a face).
        source, edited: dominant class of the mean probabilities, None without a face.
        source_probs, edited_probs: mean probability per class (``EMOTIONS`` keys), None
            without a face.
    """

    start: float
    end: float
    frames: int
    source: str | None
    source_probs: dict[str, float] | None
    edited: str | None
    edited_probs: dict[str, float] | None


@dataclass(frozen=True)
class EmotionScores:
    """Emotion metrics from the per-frame classifier probabilities (:func:`emotion_summary`).

    Attributes:
        classifier: the classifier (``ned.metrics.emotion.CLASSIFIERS``).
        labels: the class names, ``EMOTIONS`` order (the order of ``transition``).
        frames: frames classified per clip.
        source_fraction, edited_fraction: share of classified frames per predicted class
            (every class a key; None values when no frame was classified).
        transition: 7x7 counts; rows source prediction, columns edited prediction.
        segments: the per-segment summary.
        target: the emotion the ``target_*`` fields refer to (the report's target), None
            without one; not a key of :meth:`to_json` (the report holds it), and without it
            the ``target_*`` keys are left out there.
        target_fraction: share of edited frames predicted as the target.
        target_prob_mean: mean target probability over the classified edited frames.
        source_target_fraction, source_target_prob_mean: the same on the source (baseline).
    """

    classifier: str
    labels: tuple[str, ...]
    frames: FrameCounts
    source_fraction: dict[str, float | None]
    edited_fraction: dict[str, float | None]
    transition: tuple[tuple[int, ...], ...]
    segments: tuple[EmotionSegment, ...]
    target: str | None = None
    target_fraction: float | None = None
    target_prob_mean: float | None = None
    source_target_fraction: float | None = None
    source_target_prob_mean: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The summary as a dict (``target_*`` keys only with a target)."""
        out: dict[str, Any] = {
            "classifier": self.classifier, "labels": list(self.labels),
            "frames": self.frames.to_json(), "source_fraction": dict(self.source_fraction),
            "edited_fraction": dict(self.edited_fraction),
            "transition": [list(r) for r in self.transition],
            "segments": [s.to_json() for s in self.segments]}
        if self.target is not None:
            out |= {"target_fraction": self.target_fraction,
                    "target_prob_mean": self.target_prob_mean,
                    "source_target_fraction": self.source_target_fraction,
                    "source_target_prob_mean": self.source_target_prob_mean}
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], target: str | None = None) -> EmotionScores:
        """Inverse of :meth:`to_json`; ``target``: the report's target."""
        return cls(classifier=data["classifier"], labels=tuple(data["labels"]),
                   frames=FrameCounts.from_json(data["frames"]),
                   source_fraction=dict(data["source_fraction"]),
                   edited_fraction=dict(data["edited_fraction"]),
                   transition=tuple(tuple(r) for r in data["transition"]),
                   segments=tuple(EmotionSegment.from_json(s) for s in data["segments"]),
                   target=target, target_fraction=data.get("target_fraction"),
                   target_prob_mean=data.get("target_prob_mean"),
                   source_target_fraction=data.get("source_target_fraction"),
                   source_target_prob_mean=data.get("source_target_prob_mean"))


@dataclass(frozen=True)
class PerFrame:
    """Per-frame series of the report, each of length T (None: not measured in that frame).

    Attributes:
        fapd: FAPD of each frame (None without a source face).
        identity_distance: embedding distance (None where a clip was not embedded); the
            series is None when identity was not computed.
        source_emotion, edited_emotion: predicted class (None: not classified).
        target_prob: the edited frame's target probability; the series is None without a
            target.
    """

    fapd: tuple[float | None, ...]
    identity_distance: tuple[float | None, ...] | None
    source_emotion: tuple[str | None, ...]
    edited_emotion: tuple[str | None, ...]
    target_prob: tuple[float | None, ...] | None = None

    def to_json(self) -> dict[str, list]:
        """The series as lists (series that are None are left out)."""
        return {k: list(v) for k, v in (
            ("fapd", self.fapd), ("identity_distance", self.identity_distance),
            ("source_emotion", self.source_emotion), ("edited_emotion", self.edited_emotion),
            ("target_prob", self.target_prob)) if v is not None}

    @classmethod
    def from_json(cls, data: Mapping[str, Sequence]) -> PerFrame:
        """Inverse of :meth:`to_json`."""

        def opt(key: str) -> tuple | None:
            return tuple(data[key]) if key in data else None

        return cls(fapd=tuple(data["fapd"]), identity_distance=opt("identity_distance"),
                   source_emotion=tuple(data["source_emotion"]),
                   edited_emotion=tuple(data["edited_emotion"]), target_prob=opt("target_prob"))


@dataclass(frozen=True)
class Timing(FlatRecord):
    """Wall-clock time of one evaluation.

    Attributes:
        seconds: in all.
        analysis_seconds: analysing both clips (or taking given / cached analyses).
        metrics_seconds: the streamed pass (pixel metrics, classifier, embedder).
        fps: frames evaluated per second (frames / seconds).
    """

    seconds: float
    analysis_seconds: float
    metrics_seconds: float
    fps: float


@dataclass(frozen=True)
class EvaluationReport:
    """Every metric of an edited clip against its source (:func:`evaluate`).

    Attributes:
        source, edited: the two video paths.
        frames, width, height, fps: the clips' length, size and frame rate.
        target: the emotion the edit aimed at, or None.
        config: the options used.
        valid_frames: frames with a face, per clip.
        pixel: APD, FAPD, MAPD, face PSNR / SSIM, difference outside the face.
        identity: embedding distances; None when identity was not computed.
        speech: jaw / lip-gap correlation, mouth error.
        temporal: landmark jitter.
        emotion: classifier summary; None when the classifier was not run.
        per_frame: per-frame series.
        timing: how long it took.
        expression: the target table re-measured (``ned.metrics.expression``: group levels
            against the target, ceilings, geometric measures); None without a target.
    """

    source: str
    edited: str
    frames: int
    width: int
    height: int
    fps: float
    target: str | None
    config: EvalConfig
    valid_frames: FrameCounts
    pixel: PixelScores
    identity: IdentityScores | None
    speech: SpeechScores
    temporal: TemporalScores
    emotion: EmotionScores | None
    per_frame: PerFrame
    timing: Timing
    expression: ExpressionScores | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON report of ``ned evaluate``: a dict of plain values (NaN / inf as None,
        via ``ned.metrics.jsonable.clean``), keys in field order, each score group a nested
        dict (``identity`` / ``emotion`` / ``expression`` None when not computed)."""
        return clean({
            "source": self.source, "edited": self.edited, "frames": self.frames,
            "width": self.width, "height": self.height, "fps": self.fps,
            "target": self.target, "config": self.config.to_json(),
            "valid_frames": self.valid_frames.to_json(), "pixel": self.pixel.to_json(),
            "identity": self.identity.to_json() if self.identity is not None else None,
            "speech": self.speech.to_json(), "temporal": self.temporal.to_json(),
            "emotion": self.emotion.to_json() if self.emotion is not None else None,
            "expression": (self.expression.to_json() if self.expression is not None
                           else None),
            "per_frame": self.per_frame.to_json(), "timing": self.timing.to_json()})

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EvaluationReport:
        """Inverse of :meth:`to_json` (e.g. a report file read back with ``json.load``; a
        report written before the ``expression`` section reads with it None)."""
        ident, emotion, expr = data["identity"], data["emotion"], data.get("expression")
        return cls(source=data["source"], edited=data["edited"], frames=data["frames"],
                   width=data["width"], height=data["height"], fps=data["fps"],
                   target=data["target"], config=EvalConfig.from_json(data["config"]),
                   valid_frames=FrameCounts.from_json(data["valid_frames"]),
                   pixel=PixelScores.from_json(data["pixel"]),
                   identity=IdentityScores.from_json(ident) if ident is not None else None,
                   speech=SpeechScores.from_json(data["speech"]),
                   temporal=TemporalScores.from_json(data["temporal"]),
                   emotion=(EmotionScores.from_json(emotion, data["target"])
                            if emotion is not None else None),
                   per_frame=PerFrame.from_json(data["per_frame"]),
                   timing=Timing.from_json(data["timing"]),
                   expression=ExpressionScores.from_json(expr) if expr is not None else None)


#: Mean RGB L2 difference outside the faces (0-255 scale) above which the two clips are
#: taken for unrelated: an edit changes the face only (measured: edits of the sample
#: clips 1.6 and 4.8 at crf 16; single_face.mp4 against itself played backwards 15.5,
#: shifted by 40 px 76).
UNRELATED_OUTSIDE_APD = 10.0


def unrelated_warning(report: EvaluationReport) -> str | None:
    """A warning when the edited clip differs from the source well away from the face
    (it is probably not an edit of that source), else None."""
    apd, changed = report.pixel.outside_apd, report.pixel.outside_changed
    if apd is None or apd <= UNRELATED_OUTSIDE_APD:
        return None
    return (f"{report.edited} differs from {report.source} away from the face too (mean "
            f"difference {apd:.1f}, {changed:.0%} of those pixels changed; an edit changes "
            "only the face): is it an edit of that clip? Its scores compare different clips")


def check_pair(source: str | os.PathLike, edited: str | os.PathLike
               ) -> tuple[VideoInfo, VideoInfo]:
    """Probe both clips and check they can be compared frame by frame (same size, length and
    frame rate within 1 %)."""
    a, b = probe(source), probe(edited)
    if (a.width, a.height) != (b.width, b.height):
        raise NedError(f"videos differ in size: {source} is {a.width}x{a.height}, {edited} is "
                       f"{b.width}x{b.height}")
    if a.frame_count != b.frame_count:
        raise NedError(f"videos differ in length: {source} has {a.frame_count} frames, "
                       f"{edited} has {b.frame_count}")
    if abs(a.fps - b.fps) > 0.01 * max(a.fps, b.fps):
        raise NedError(f"videos differ in frame rate: {source} at {a.fps:.3f} fps, {edited} at "
                       f"{b.fps:.3f} fps")
    return a, b


def _track(path: str | os.PathLike, given: FaceTrack | None, progress: bool,
           cached: bool = False) -> FaceTrack:
    """The clip's analysis: ``given``, else the analysis cache's (``cached``; an edited
    clip's source usually is in the cache already), else analysed now."""
    track = given
    if track is None:
        track = (cached_track(path, progress=progress) if cached
                 else analyze(path, progress=progress))
    if not track.valid.any():
        raise NedError(f"no face found in {path}")
    return track


@dataclass(frozen=True)
class SourceCache:
    """Per-frame results on a source clip, reused when one source is evaluated against many
    edits (the protocols). Filled by :func:`evaluate_detailed`.

    Attributes:
        probs: (T, 7) emotion probabilities (NaN rows: no face).
        embeds: (T, 128) identity embeddings (NaN rows: not computed).
        identity_stride: the stride the embeddings were computed with.
        identity: whether embeddings were computed.
        classifier: the emotion classifier the probabilities come from.
    """

    probs: np.ndarray
    embeds: np.ndarray
    identity_stride: int
    identity: bool
    classifier: str = emo.DEFAULT_CLASSIFIER

    def fits(self, t: int, config: EvalConfig) -> bool:
        """Whether the cache holds what ``config`` needs for a T-frame clip."""
        want_id = config.identity if config.identity is not None else idm.available()
        same_id = self.identity and self.identity_stride == config.identity_stride
        return (len(self.probs) == t and self.classifier == config.classifier
                and (not want_id or same_id))


class _Collector:
    """Per-frame emotion crops (classified in batches) and identity embeddings."""

    def __init__(self, config: EvalConfig, t: int, source_cache: SourceCache | None) -> None:
        self.config = config
        self.probs = {k: np.full((t, len(EMOTIONS)), np.nan, np.float32) for k in ("src", "edt")}
        self.embeds = {k: np.full((t, idm.EMBEDDING_DIM), np.nan, np.float32)
                       for k in ("src", "edt")}
        self.classifier = emo.EmotionClassifier(config.classifier)
        self._pending: dict[str, list[tuple[int, object]]] = {"src": [], "edt": []}
        use_id = config.identity if config.identity is not None else idm.available()
        self.embedder = idm.DlibEmbedder() if use_id else None
        self.cached = source_cache is not None and source_cache.fits(t, config)
        if self.cached:
            self.probs["src"], self.embeds["src"] = source_cache.probs, source_cache.embeds

    def add(self, key: str, index: int, image: np.ndarray, points: np.ndarray | None) -> None:
        if points is None or (key == "src" and self.cached):
            return
        if self.config.emotion:
            crop = self.classifier.crop(image, points)
            if crop is not None:
                self._pending[key].append((index, crop))
                if len(self._pending[key]) >= 32:
                    self.flush(key)
        if self.embedder is not None and index % self.config.identity_stride == 0:
            self.embeds[key][index] = self.embedder.embed(image, points)

    def flush(self, key: str) -> None:
        items = self._pending[key]
        if items:
            p = self.classifier.classify([c for _, c in items])
            self.probs[key][[i for i, _ in items]] = p
        self._pending[key] = []


def _points(track: FaceTrack, i: int) -> np.ndarray | None:
    return track.landmarks[i] if track.valid[i] else None


def _stream(source: str | os.PathLike, edited: str | os.PathLike, src: FaceTrack,
            edt: FaceTrack, config: EvalConfig, progress: bool,
            source_cache: SourceCache | None) -> tuple[PixelAccumulator, _Collector]:
    pix = PixelAccumulator(config.pixel)
    col = _Collector(config, src.n_frames, source_cache)
    bar = tqdm(total=src.n_frames, unit="frame", desc="evaluate", disable=not progress,
               leave=False)
    n = 0
    for fs, fe in zip(read_frames(source), read_frames(edited)):
        i = fs.index
        if i >= src.n_frames:
            break
        ps, pe = _points(src, i), _points(edt, i)
        pix.update(fs.image, fe.image, ps, pe)
        col.add("src", i, fs.image, ps)
        col.add("edt", i, fe.image, pe)
        n += 1
        bar.update(1)
    bar.close()
    col.flush("src")
    col.flush("edt")
    if n != src.n_frames:
        raise NedError(f"decoded {n} frame pairs but the tracks hold {src.n_frames} frames")
    return pix, col


def evaluate(source: str | os.PathLike, edited: str | os.PathLike,
             config: EvalConfig | None = None, *, progress: bool = False,
             source_track: FaceTrack | None = None, edited_track: FaceTrack | None = None
             ) -> EvaluationReport:
    """All metrics of an edited clip against its source.

    Args:
        source, edited: video files of one size and length.
        config: options (target emotion, identity, ...).
        progress: progress bars on stderr.
        source_track, edited_track: analyses to reuse (else both clips are analysed).

    Returns:
        The report: ``pixel`` (APD, FAPD, MAPD, face PSNR/SSIM, outside difference),
        ``identity`` (per-frame distance, Frechet distance; None if not computed),
        ``speech`` (jaw / lip-gap correlation, mouth error), ``temporal`` (jitter),
        ``emotion`` (target fraction, mean target probability, fractions per class,
        source->edited transition counts, per-segment summary; None if not run),
        ``expression`` (the target table's group levels, ceilings and geometric measures,
        re-measured; None without a target),
        ``per_frame`` series (length T) and ``timing`` (seconds, frames per second).
        ``report.to_json()`` is the JSON form.

    Raises:
        NedError: clips of different size or length, no face in either clip.
    """
    return evaluate_detailed(source, edited, config, progress=progress,
                             source_track=source_track, edited_track=edited_track)[0]


def evaluate_detailed(source: str | os.PathLike, edited: str | os.PathLike,
                      config: EvalConfig | None = None, *, progress: bool = False,
                      source_track: FaceTrack | None = None,
                      edited_track: FaceTrack | None = None,
                      source_cache: SourceCache | None = None
                      ) -> tuple[EvaluationReport, dict[str, np.ndarray], SourceCache]:
    """:func:`evaluate`, also returning the per-frame arrays and a reusable source cache.

    Returns:
        (report, arrays, cache): arrays holds ``source_probs``, ``edited_probs`` (T, 7) and
        ``source_embeds``, ``edited_embeds`` (T, 128), NaN rows where not measured.
    """
    cfg = config or EvalConfig()
    t0 = time.perf_counter()
    info, _ = check_pair(source, edited)
    src = _track(source, source_track, progress, cached=cfg.use_cache)
    edt = _track(edited, edited_track, progress)
    if src.n_frames != edt.n_frames:
        raise NedError(f"analyses differ in length: {src.n_frames} vs {edt.n_frames} frames")
    t1 = time.perf_counter()
    pix, col = _stream(source, edited, src, edt, cfg, progress, source_cache)
    t2 = time.perf_counter()
    pixel, identity = pix.result(), _identity(col)
    speech, temporal = speech_metrics(src, edt), temporal_metrics(src, edt)
    emotion = (emotion_summary(col.probs["src"], col.probs["edt"], cfg.target, src.timestamps,
                               cfg.segment_seconds, classifier=cfg.classifier)
               if cfg.emotion else None)
    per_frame = _per_frame(pix, col, cfg.target)
    expression = expression_scores(src, edt, cfg.target) if cfg.target is not None else None
    total = time.perf_counter() - t0
    report = EvaluationReport(
        source=str(source), edited=str(edited), frames=src.n_frames, width=info.width,
        height=info.height, fps=info.fps, target=cfg.target, config=cfg,
        valid_frames=FrameCounts(int(src.valid.sum()), int(edt.valid.sum())), pixel=pixel,
        identity=identity, speech=speech, temporal=temporal, emotion=emotion,
        per_frame=per_frame,
        timing=Timing(seconds=total, analysis_seconds=t1 - t0, metrics_seconds=t2 - t1,
                      fps=src.n_frames / max(total, 1e-9)),
        expression=expression)
    arrays = {"source_probs": col.probs["src"], "edited_probs": col.probs["edt"],
              "source_embeds": col.embeds["src"], "edited_embeds": col.embeds["edt"]}
    cache = SourceCache(col.probs["src"], col.embeds["src"], cfg.identity_stride,
                        col.embedder is not None, cfg.classifier)
    unrelated = unrelated_warning(report)
    if unrelated is not None:
        warn(unrelated)
    return report, arrays, cache


def _identity(col: _Collector) -> IdentityScores | None:
    if col.embedder is None:
        return None
    a, b = col.embeds["src"], col.embeds["edt"]
    ok = ~np.isnan(a).any(1) & ~np.isnan(b).any(1)
    if ok.sum() < 2:
        return IdentityScores(None, None, None, int(ok.sum()))
    d = idm.identity_distances(a[ok], b[ok])
    return IdentityScores(distance_mean=float(d.mean()), distance_max=float(d.max()),
                          frechet=idm.frechet_distance(a[ok], b[ok]), frames=int(ok.sum()))


def _series(values: Sequence[float] | np.ndarray) -> tuple[float | None, ...]:
    """Plain floats, None for NaN / inf (the JSON form)."""
    return tuple(float(v) if np.isfinite(v) else None for v in np.asarray(values).tolist())


def _per_frame(pix: PixelAccumulator, col: _Collector, target: str | None) -> PerFrame:
    ident = None
    if col.embedder is not None:
        ident = _series(np.linalg.norm(col.embeds["src"] - col.embeds["edt"], axis=1))
    labels = {key: tuple(None if np.isnan(r).any() else EMOTIONS[int(r.argmax())]
                         for r in col.probs[key]) for key in ("src", "edt")}
    target_prob = (_series(col.probs["edt"][:, EMOTIONS.index(target)])
                   if target is not None else None)
    return PerFrame(fapd=_series(pix.fapd_per_frame), identity_distance=ident,
                    source_emotion=labels["src"], edited_emotion=labels["edt"],
                    target_prob=target_prob)


def emotion_summary(src_probs: np.ndarray, edt_probs: np.ndarray, target: str | None,
                    timestamps: np.ndarray, segment_seconds: float = 1.0, *,
                    classifier: str = emo.DEFAULT_CLASSIFIER) -> EmotionScores:
    """Emotion metrics from per-frame probabilities.

    Args:
        src_probs, edt_probs: (T, 7) probabilities in ``EMOTIONS`` order, NaN rows where a
            clip has no face.
        target: the aimed emotion or None.
        timestamps: (T,) seconds, for the segments.
        segment_seconds: segment length (> 0).
        classifier: the classifier the probabilities come from (recorded only).

    Returns:
        Fractions of frames per predicted class for both clips, target fraction and mean
        target probability (edited and, as a baseline, source; None without a target), the
        7x7 transition counts (rows: source prediction, columns: edited prediction) and
        per-segment mean probabilities with the dominant class.
    """
    vs, ve = ~np.isnan(src_probs).any(1), ~np.isnan(edt_probs).any(1)
    ps, pe = src_probs.argmax(1), edt_probs.argmax(1)
    trans = np.zeros((len(EMOTIONS), len(EMOTIONS)), np.int64)
    both = vs & ve
    np.add.at(trans, (ps[both], pe[both]), 1)

    def frac(pred: np.ndarray, v: np.ndarray) -> dict[str, float | None]:
        n = int(v.sum())
        return {e: (float((pred[v] == k).sum() / n) if n else None)
                for k, e in enumerate(EMOTIONS)}

    src_frac, edt_frac = frac(ps, vs), frac(pe, ve)
    targets: dict[str, float | None] = {}
    if target is not None:
        k = EMOTIONS.index(target)
        targets = dict(
            target_fraction=edt_frac[target],
            target_prob_mean=float(edt_probs[ve, k].mean()) if ve.any() else None,
            source_target_fraction=src_frac[target],
            source_target_prob_mean=float(src_probs[vs, k].mean()) if vs.any() else None)
    return EmotionScores(
        classifier=classifier, labels=tuple(EMOTIONS),
        frames=FrameCounts(int(vs.sum()), int(ve.sum())), source_fraction=src_frac,
        edited_fraction=edt_frac, transition=tuple(tuple(r) for r in trans.tolist()),
        segments=segments(src_probs, edt_probs, timestamps, segment_seconds), target=target,
        **targets)


def segments(src_probs: np.ndarray, edt_probs: np.ndarray, timestamps: np.ndarray,
             seconds: float) -> tuple[EmotionSegment, ...]:
    """Per-segment mean probabilities and dominant class of both clips.

    Args:
        src_probs, edt_probs: (T, 7) probabilities in ``EMOTIONS`` order, NaN rows where a
            clip has no face.
        timestamps: (T,) seconds; segment k holds the frames with
            ``floor((t - timestamps[0]) / seconds) == k`` (empty segments are left out).
        seconds: segment length (> 0).

    Returns:
        One :class:`EmotionSegment` per non-empty segment, in time order.
    """
    ts = np.asarray(timestamps, np.float64)
    if not len(ts):
        return ()
    seg = np.floor((ts - ts[0]) / seconds).astype(int)
    out = []
    for s in np.unique(seg):
        idx = seg == s
        dominant, means = {}, {}
        for key, p in (("source", src_probs[idx]), ("edited", edt_probs[idx])):
            p = p[~np.isnan(p).any(1)]
            m = p.mean(0) if len(p) else None
            dominant[key] = EMOTIONS[int(m.argmax())] if m is not None else None
            means[key] = ({e: float(v) for e, v in zip(EMOTIONS, m)}
                          if m is not None else None)
        out.append(EmotionSegment(
            start=float(ts[idx][0]), end=float(ts[idx][-1]), frames=int(idx.sum()),
            source=dominant["source"], source_probs=means["source"],
            edited=dominant["edited"], edited_probs=means["edited"]))
    return tuple(out)


def segment_fractions(probs: np.ndarray, timestamps: np.ndarray, seconds: float = 1.0
                      ) -> list[dict]:
    """Share of frames per predicted class in each segment of one clip.

    Args:
        probs: (T, 7) probabilities in ``EMOTIONS`` order, NaN rows where no face.
        timestamps: (T,) seconds.
        seconds: segment length (> 0).

    Returns:
        One dict per segment: start, end (s), frames (with a face), fractions (class ->
        share of those frames, classes that occur only) and dominant (most frequent class,
        None without faces).
    """
    p, ts = np.asarray(probs), np.asarray(timestamps, np.float64)
    if p.ndim != 2 or p.shape[1] != len(EMOTIONS) or len(ts) != len(p):
        raise NedError(f"probs must be (T, {len(EMOTIONS)}) with T timestamps, got {p.shape} "
                       f"and {ts.shape}")
    if seconds <= 0:
        raise NedError("segment length must be > 0 seconds")
    if not len(ts):
        return []
    seg = np.floor((ts - ts[0]) / seconds).astype(int)
    out = []
    for s in np.unique(seg):
        q = p[seg == s]
        q = q[~np.isnan(q).any(1)]
        counts = np.bincount(q.argmax(1), minlength=len(EMOTIONS)) if len(q) else None
        frac = ({EMOTIONS[k]: float(c / len(q)) for k, c in enumerate(counts) if c}
                if counts is not None else {})
        out.append({"start": float(ts[seg == s][0]), "end": float(ts[seg == s][-1]),
                    "frames": int(len(q)), "fractions": frac,
                    "dominant": EMOTIONS[int(counts.argmax())] if counts is not None else None})
    return out


def classify_video(path: str | os.PathLike, track: FaceTrack | None = None,
                   progress: bool = False, classifier: str = emo.DEFAULT_CLASSIFIER
                   ) -> tuple[np.ndarray, FaceTrack]:
    """Emotion probabilities of every frame of one clip (streamed), by ``classifier`` (one of
    ``ned.metrics.emotion.CLASSIFIERS``).

    Returns:
        ((T, 7) float32 probabilities in ``EMOTIONS`` order, NaN rows where no face; the
        clip's FaceTrack).
    """
    clf = emo.EmotionClassifier(classifier)
    track = _track(path, track, progress)
    probs = np.full((track.n_frames, len(EMOTIONS)), np.nan, np.float32)
    pending: list[tuple[int, object]] = []

    def flush() -> None:
        if pending:
            probs[[i for i, _ in pending]] = clf.classify([c for _, c in pending])
            pending.clear()

    for frame in read_frames(path):
        i = frame.index
        if i < track.n_frames and track.valid[i]:
            crop = clf.crop(frame.image, track.landmarks[i])
            if crop is not None:
                pending.append((i, crop))
        if len(pending) >= 32:
            flush()
    flush()
    return probs, track
