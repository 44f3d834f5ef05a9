"""What an edit does (:class:`EditConfig`, frozen, validated on construction, grouped by
concern) and what it did (:class:`EditReport`).

Build a config from the flat option names the CLI and :func:`ned.edit` use::

    cfg = EditConfig.build(emotion="sad", intensity=0.8, start=2.0, crf=0)
    cfg.target.emotion, cfg.range.start, cfg.crf        # 'sad', 2.0, 0
    cfg.replace(intensity=0.5)                          # a new, validated config
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from ned.blendshapes import EMOTIONS, INTENSITY_RANGE
from ned.editing.controls import GAZE, normalise
from ned.editing.guards import GuardConfig
from ned.editing.timeline import Timeline
from ned.errors import NedError

#: x264 quality of an edit's output unless told otherwise (for a source coded no more
#: finely than :data:`AUTO_CRF_BPP`).
DEFAULT_CRF = 16
#: Bits per pixel x264 spends at :data:`DEFAULT_CRF` on the bundled clips, about (0.10 on
#: single_face at 640x360, 0.30 on carphone at 176x144). A source coded more finely gets
#: a lower crf (:func:`source_crf`): 6 lower per doubling, so the output keeps its detail
#: (carphone, 1.55 bits per pixel: re-encoded at crf 16 its frames kept 0.89 of their
#: sharpness, at crf 8 0.96).
AUTO_CRF_BPP = 0.3
#: The lowest crf :func:`source_crf` picks (x264 at crf 8 spends about 3x crf 16's bits).
MIN_AUTO_CRF = 8


def source_crf(bits_per_pixel: float | None) -> int:
    """The output's crf for a source coded with ``bits_per_pixel`` (``VideoInfo
    .bits_per_pixel``): :data:`DEFAULT_CRF`, 6 lower per doubling above
    :data:`AUTO_CRF_BPP`, at least :data:`MIN_AUTO_CRF`. None (unknown): the default."""
    if (bits_per_pixel is None or not math.isfinite(bits_per_pixel)
            or bits_per_pixel <= AUTO_CRF_BPP):
        return DEFAULT_CRF
    lower = int(round(6 * math.log2(bits_per_pixel / AUTO_CRF_BPP)))
    return max(MIN_AUTO_CRF, DEFAULT_CRF - lower)


def _path_or_none(value: str | os.PathLike | None) -> str | None:
    return None if value is None else os.fspath(value)


def _finite(name: str, value: float | None) -> None:
    if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
        raise NedError(f"{name} must be a finite number, got {value!r}")


@dataclass(frozen=True)
class TargetConfig:
    """What the face should show.

    Attributes:
        emotion: target emotion (one of ``ned.blendshapes.EMOTIONS``), or None with
            ``reference``.
        reference: a reference clip whose expression style is transferred.
        intensity: 0 = the clip's own style, 1 = the target style, up to 1.5.
        seed: seed of the manipulator's latent in emotion mode.
        manipulator: a manipulator checkpoint (None = the shipped default).
        adjust: expression controls (:mod:`ned.editing.controls`), (name, value) pairs in
            [-1, 1] for the whole edit (a mapping is accepted and normalised); on top of
            the emotion, or alone.
        timeline: emotions and controls over time (:class:`ned.editing.timeline.Timeline`,
            or the path of a timeline file); instead of ``emotion`` / ``reference``.
            ``intensity`` scales its segments' intensities.
    """

    emotion: str | None = None
    reference: str | None = None
    intensity: float = 1.0
    seed: int = 0
    manipulator: str | None = None
    adjust: tuple[tuple[str, float], ...] = ()
    timeline: Timeline | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "reference", _path_or_none(self.reference))
        object.__setattr__(self, "manipulator", _path_or_none(self.manipulator))
        object.__setattr__(self, "adjust", normalise(self.adjust))
        if self.timeline is not None and not isinstance(self.timeline, Timeline):
            if isinstance(self.timeline, (str, os.PathLike)):
                object.__setattr__(self, "timeline", Timeline.load(self.timeline))
            elif isinstance(self.timeline, dict):
                object.__setattr__(self, "timeline", Timeline.from_json(self.timeline))
            else:
                raise NedError("timeline must be a Timeline, a timeline file or its JSON")
        if self.timeline is not None and (self.emotion or self.reference):
            raise NedError("a timeline carries its own emotions: give --timeline (or "
                           "--segments) or --emotion / --reference, not both")
        if self.emotion is not None and self.reference is not None or (
                self.emotion is None and self.reference is None
                and self.timeline is None and not self.adjust):
            raise NedError("give exactly one of --emotion or --reference (or --adjust, "
                           "--timeline, --segments)")
        if self.emotion is not None and self.emotion not in EMOTIONS:
            raise NedError(f"unknown emotion {self.emotion!r}; choose one of "
                           f"{', '.join(EMOTIONS)}")
        _finite("intensity", self.intensity)
        lo, hi = INTENSITY_RANGE
        if not lo <= self.intensity <= hi:
            raise NedError(f"intensity {self.intensity} is outside [{lo}, {hi}]")
        if not isinstance(self.seed, int):
            raise NedError(f"seed must be an integer, got {self.seed!r}")

    @property
    def directed(self) -> bool:
        """The edit has controls or a timeline (planned by
        :class:`ned.editing.direct.DirectedPlanner`); False: one emotion or reference for
        the whole clip, planned as before."""
        return bool(self.adjust) or self.timeline is not None

    @property
    def gaze(self) -> bool:
        """Some control moves the irises (:data:`ned.editing.controls.GAZE`)."""
        names = {n for n, _ in self.adjust}
        if self.timeline is not None:
            tl = self.timeline
            names |= {n for n, _ in tl.controls}
            names |= {n for s in tl.segments for n, _ in s.controls}
            names |= {n for k in tl.keyframes for n, v in k.controls}
        return bool(names & set(GAZE))

    def describe(self) -> str:
        """One line naming what the face is directed to show (for the output's
        provenance): the emotion and intensity, the reference, the controls, the
        timeline."""
        from ned.editing.controls import describe

        parts = []
        if self.emotion is not None:
            parts.append(f"emotion {self.emotion} at intensity {self.intensity:g}")
        if self.reference is not None:
            parts.append(f"style of {Path(self.reference).name} at intensity "
                         f"{self.intensity:g}")
        if self.adjust:
            parts.append(f"controls {describe(self.adjust)}")
        if self.timeline is not None:
            scale = "" if self.intensity == 1.0 else f" (intensities x{self.intensity:g})"
            parts.append(f"timeline {self.timeline.summary()}{scale}")
        return "; ".join(parts)


@dataclass(frozen=True)
class TimeRange:
    """Which part of the clip is edited.

    Attributes:
        start, end: seconds of the clip to edit, counted from its first frame as players
            show them (None = from the start / to the end); start >= 0, end > 0.
        ramp: seconds over which the edit fades in and out at ``start`` / ``end``.
    """

    start: float | None = None
    end: float | None = None
    ramp: float = 0.3

    def __post_init__(self) -> None:
        for name in ("start", "end", "ramp"):
            _finite(f"--{name}", getattr(self, name))
        if self.start is not None and self.start < 0:
            raise NedError(f"--start ({self.start:g}) must be >= 0 s (times count from the "
                           "clip's first frame)")
        if self.end is not None and self.end <= 0:
            raise NedError(f"--end ({self.end:g}) must be after the clip's first frame (> 0 s)")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise NedError(f"--end ({self.end}) must be after --start ({self.start})")
        if self.ramp < 0:
            raise NedError("ramp must be >= 0")


#: The warp renderer's appearance cues (:class:`ned.render.appearance.AppearanceConfig`).
CUES = ("creases", "interior", "eyes")
#: The cues on by default for every target (:func:`default_cues` adds the interior).
DEFAULT_CUES = ("creases", "eyes")


def default_cues(emotion: str | None) -> tuple[str, ...]:
    """The appearance cues an edit towards ``emotion`` uses unless told otherwise:
    :data:`DEFAULT_CUES`, and the mouth's interior for the targets whose posture opens the
    mouth (``ned.facs.OPENS_MOUTH``: surprise's and fear's dropped jaw, disgust's raised
    upper lip), where the lips would otherwise be stretched over the gap. Not for the
    others: a smile's widened corners look right stretched, and filling them with a dark
    interior read as an open mouth (carphone -> happy: face-api's P(happy) +0.23 with the
    fill, +0.51 without; docs/expressions.md)."""
    from ned.facs import OPENS_MOUTH

    on = DEFAULT_CUES + (("interior",) if emotion in OPENS_MOUTH else ())
    return tuple(c for c in CUES if c in on)


def parse_cues(text: str) -> tuple[str, ...]:
    """A comma-separated cue list as the CLI takes it (``none`` = no cue) as a tuple of
    names; the names themselves are checked by :class:`RenderConfig`."""
    names = [c.strip() for c in text.split(",") if c.strip()]
    return () if names == ["none"] else tuple(names)


@dataclass(frozen=True)
class RenderConfig:
    """How the edited geometry becomes pixels.

    Attributes:
        renderer: a neural renderer file (``ned train-renderer``); None = the train-free
            warp renderer.
        gain: factor on the edit's geometric displacement (0 to 3).
        mask_grow: face-mask growth in inter-ocular distances.
        mask_feather: face-mask feather in inter-ocular distances.
        blend_levels: Laplacian pyramid levels of the compositing.
        occlusion: keep occluded face pixels (hands, microphones) from the source.
        calibrate: correct the edit's strength per channel group on the clip itself (a
            closed loop on a few frames: ``ned.editing.calibrate``); False: the start
            gains.
        cues: the warp renderer's appearance cues (:mod:`ned.render.appearance`), any of
            ``creases``, ``interior`` (the mouth's), ``eyes``; None = the target's default
            (:func:`default_cues`, see :meth:`EditConfig.cues`). The neural renderer
            draws its own appearance and ignores them.
    """

    renderer: str | None = None
    gain: float = 1.0
    mask_grow: float = 0.06
    mask_feather: float = 0.12
    blend_levels: int = 4
    occlusion: bool = True
    calibrate: bool = True
    cues: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "renderer", _path_or_none(self.renderer))
        if self.cues is not None:
            if isinstance(self.cues, str) or not all(isinstance(c, str) for c in self.cues):
                raise NedError(f"cues must be a sequence of names out of {', '.join(CUES)}")
            bad = sorted(set(self.cues) - set(CUES))
            if bad:
                raise NedError(f"unknown appearance cue {bad[0]!r}; choose from "
                               f"{', '.join(CUES)}")
            object.__setattr__(self, "cues", tuple(c for c in CUES if c in self.cues))
        for name in ("gain", "mask_grow", "mask_feather"):
            _finite(name, getattr(self, name))
        if not 0 <= self.gain <= 3:
            raise NedError(f"gain {self.gain} is outside [0, 3]")
        if self.mask_grow < 0 or self.mask_feather < 0:
            raise NedError("mask growth and feather must be >= 0")
        if not isinstance(self.blend_levels, int) or not 1 <= self.blend_levels <= 8:
            raise NedError(f"blend levels must be an integer in [1, 8], got {self.blend_levels}")


#: Flat option name -> the group of :class:`EditConfig` holding it (None: EditConfig itself).
OPTION_GROUPS: dict[str, str | None] = {
    **{f.name: "target" for f in dataclasses.fields(TargetConfig)},
    **{f.name: "range" for f in dataclasses.fields(TimeRange)},
    **{f.name: "render" for f in dataclasses.fields(RenderConfig)},
    "face_index": None, "guards": None, "crf": None, "use_cache": None,
}


@dataclass(frozen=True)
class EditConfig:
    """All options of an edit, grouped by concern; validated on construction.

    Attributes:
        target: what the face should show (:class:`TargetConfig`).
        range: which part of the clip (:class:`TimeRange`).
        face_index: which face to edit (0 = largest).
        guards: head-pose, gap, cut and eyelid guards (:class:`GuardConfig`).
        render: renderer and compositing (:class:`RenderConfig`).
        crf: x264 quality of the output, 0 (lossless) to 51; None: :data:`DEFAULT_CRF`,
            lower for a finely coded source (:func:`source_crf`).
        use_cache: reuse (and fill) the analysis cache.
    """

    target: TargetConfig
    range: TimeRange = field(default_factory=TimeRange)
    face_index: int = 0
    guards: GuardConfig = field(default_factory=GuardConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    crf: int | None = None
    use_cache: bool = True

    def __post_init__(self) -> None:
        for name, kind in (("target", TargetConfig), ("range", TimeRange),
                           ("guards", GuardConfig), ("render", RenderConfig)):
            if not isinstance(getattr(self, name), kind):
                raise NedError(f"EditConfig.{name} must be a {kind.__name__}")
        if not isinstance(self.face_index, int) or self.face_index < 0:
            raise NedError("face index must be an integer >= 0")
        if self.crf is not None and (not isinstance(self.crf, int) or isinstance(self.crf, bool)
                                     or not 0 <= self.crf <= 51):
            raise NedError(f"crf {self.crf} is outside [0, 51]")

    @property
    def cues(self) -> tuple[str, ...]:
        """The appearance cues the warp renderer draws: ``render.cues``, or the target's
        default (:func:`default_cues`) when none were given."""
        if self.render.cues is not None:
            return self.render.cues
        return default_cues(self.target.emotion)

    @property
    def resolved_render(self) -> RenderConfig:
        """``render`` with :attr:`cues` filled in (what the renderer is built from)."""
        return dataclasses.replace(self.render, cues=self.cues)

    @classmethod
    def build(cls, **options: Any) -> EditConfig:
        """A config from flat option names (``emotion``, ``intensity``, ``start``, ``gain``,
        ``crf``, ... : the keys of :data:`OPTION_GROUPS`); the rest keep their defaults."""
        unknown = sorted(set(options) - set(OPTION_GROUPS))
        if unknown:
            raise NedError(f"unknown edit option(s): {', '.join(unknown)}")
        groups: dict[str, dict[str, Any]] = {"target": {}, "range": {}, "render": {}}
        top: dict[str, Any] = {}
        for name, value in options.items():
            group = OPTION_GROUPS[name]
            (groups[group] if group else top)[name] = value
        return cls(target=TargetConfig(**groups["target"]), range=TimeRange(**groups["range"]),
                   render=RenderConfig(**groups["render"]), **top)

    def option(self, name: str) -> Any:
        """The value of a flat option (see :meth:`build`)."""
        if name not in OPTION_GROUPS:
            raise NedError(f"unknown edit option: {name}")
        group = OPTION_GROUPS[name]
        return getattr(getattr(self, group) if group else self, name)

    def replace(self, **options: Any) -> EditConfig:
        """A new config with some flat options changed (validated again)."""
        flat = {name: self.option(name) for name in OPTION_GROUPS}
        return EditConfig.build(**{**flat, **options})

    def with_overrides(self, overrides: dict[str, Any]) -> EditConfig:
        """This config with ``overrides`` (flat names) applied; an override that differs
        from a value this config already holds is an error, never a silent win."""
        for name, value in overrides.items():
            held = self.option(name)
            if held != _normal(name, value):
                raise NedError(f"{name} is given twice: {held!r} in the config and {value!r} "
                               "as an argument")
        return self


def _normal(name: str, value: Any) -> Any:
    """An option's value as the config stores it (paths as strings)."""
    if name in ("reference", "manipulator", "renderer"):
        return _path_or_none(value)
    if name == "cues" and not isinstance(value, str):
        return tuple(c for c in CUES if c in tuple(value))
    if name == "adjust":
        return normalise(value)
    if name == "timeline" and isinstance(value, (str, os.PathLike, dict)):
        return TargetConfig(timeline=value).timeline
    return value


class PassReason(str, Enum):
    """Why a frame is passed through unchanged."""

    NO_FACE = "no face"
    OUTSIDE_RANGE = "outside range"
    POSE = "pose"
    CUT = "cut"

    def __str__(self) -> str:
        return self.value


class Limit(str, Enum):
    """Why an edited frame shows less than the full target."""

    RAMP = "ramp"      # fading in or out: the time range's ends, a gap, a shot cut
    POSE = "pose"      # the head turns towards the pose limits
    LIDS = "lids"      # an eye closes: its lid edits fade out
    FOLDS = "folds"    # part of the geometry was held back so no triangle folds

    def __str__(self) -> str:
        return self.value


@dataclass
class EditReport:
    """What an edit did.

    Attributes:
        output: the written clip.
        preview: the side-by-side preview, if written.
        frames: frames written.
        edited: frames whose face was changed.
        unfolded: edited frames whose edit was shrunk somewhere so no mesh triangle
            folds over (the rest of the face keeps the full edit).
        occluded: frames where part of the face was covered (kept from the source).
        passed: frames passed through, by reason.
        reached: per frame, the fraction of the full target it shows (0 for frames
            passed through; the edit strength times the share of the geometry kept).
        limited: edited frames that show less than the full target, by reason.
        calibration: per channel group the loop chased, its calibrated ``gain``, the
            ``level`` re-measured on the calibration frames and its ``target`` (or
            ``ceiling``); empty without a calibration.
        timings: seconds spent per stage (startup, plan, render, encode).
    """

    output: Path
    preview: Path | None
    frames: int = 0
    edited: int = 0
    unfolded: int = 0
    occluded: int = 0
    passed: dict[PassReason, int] = field(default_factory=lambda: dict.fromkeys(PassReason, 0))
    reached: list[float] = field(default_factory=list)
    limited: dict[Limit, int] = field(default_factory=lambda: dict.fromkeys(Limit, 0))
    calibration: dict[str, dict[str, float]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def reached_mean(self) -> float | None:
        """Mean fraction of the target shown over the edited frames (None: none edited)."""
        shown = [r for r in self.reached if r > 0]
        return float(sum(shown) / len(shown)) if shown else None

    def summary(self) -> str:
        """One line: frames, edited, passed through by reason, occluded, how much of the
        target the edited frames show and why not all of it."""
        why = ", ".join(f"{k.value} {v}" for k, v in self.passed.items() if v) or "none"
        less = ", ".join(f"{k.value} {v}" for k, v in self.limited.items() if v) or "none"
        reached = self.reached_mean
        shown = "" if reached is None else f"target reached {reached:.0%} on average; "
        measured = "; ".join(
            f"{g} {c['level']:.2f}" + (f" of {c['target']:.2f}" if "target" in c
                                       else f" (at most {c['ceiling']:.2f})")
            for g, c in self.calibration.items())
        return (f"{self.output}: {self.frames} frames, {self.edited} edited; "
                f"passed through: {why}; partly occluded: {self.occluded}; {shown}"
                f"cut back: {less}; edits shrunk against folds: {self.unfolded}"
                + (f"; re-measured while calibrating: {measured}" if measured else ""))
