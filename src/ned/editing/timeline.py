"""Several emotions and controls across one clip: a timeline of segments and keyframes.

A timeline file is JSON (schema: docs/controls.md)::

    {"format": "ned-timeline", "version": 1,
     "segments": [{"start": 0, "end": 2.5, "emotion": "happy"},
                  {"start": 2.5, "end": 6, "emotion": "sad", "intensity": 0.6,
                   "controls": {"brow_lower": -0.3}, "ramp": 0.3}],
     "keyframes": [{"time": 0.5, "controls": {"smile": 0}},
                   {"time": 1.5, "controls": {"smile": 0.8}, "easing": "smooth"}],
     "controls": {"squint": 0.2}}

- A **segment** shows an emotion (or none: controls only) at an intensity over
  [start, end) seconds (counted from the clip's first frame; ``end`` null = to the clip's
  end) with constant controls. Two segments that meet cross-fade over ``ramp`` seconds
  centred on the boundary; a free end ramps in or out over ``ramp`` inside the segment,
  except at the clip's own ends.
- A **keyframe** sets controls at a time; each control is interpolated between the
  keyframes that name it (``easing`` of the later one: ``smooth``, a raised cosine,
  ``linear`` or ``hold``, a step at the later keyframe) and holds its first and last
  values before and after them.
- ``controls`` (and ``ned edit --adjust``) hold for the whole clip.

Nothing is interpolated across a shot cut: a ramp or a keyframe transition that spans a
cut becomes a step at the cut (the new shot starts at the new value), so every shot shows
its own target from its first frame. The short form ``"0-2.5:happy,2.5-6:sad@0.6"``
(:func:`parse_segments`) gives segments only.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ned.blendshapes import EMOTIONS, INTENSITY_RANGE
from ned.editing.controls import NAMES, describe, normalise
from ned.errors import NedError

FORMAT = "ned-timeline"
#: Schema version of timeline files; bump when a field is added or changes meaning.
VERSION = 1
EASINGS = ("smooth", "linear", "hold")
#: Default seconds of a segment's ramps (as ``--start`` / ``--end``).
RAMP = 0.3


def _number(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value):
        raise NedError(f"timeline: {where} must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Segment:
    """One stretch of the clip with an emotion and constant controls.

    Attributes:
        start: seconds from the clip's first frame (>= 0).
        end: seconds (> start), None = to the clip's end.
        emotion: one of ``ned.blendshapes.EMOTIONS``, or None (controls only).
        intensity: the emotion's strength in [0, 1.5].
        controls: (name, value) pairs, constant over the segment.
        ramp: seconds of its ramps in and out.
    """

    start: float
    end: float | None = None
    emotion: str | None = None
    intensity: float = 1.0
    controls: tuple[tuple[str, float], ...] = ()
    ramp: float = RAMP

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _number("a segment's start", self.start))
        if self.start < 0:
            raise NedError(f"timeline: a segment starts at {self.start:g} s; times count "
                           "from the clip's first frame (>= 0)")
        if self.end is not None:
            object.__setattr__(self, "end", _number("a segment's end", self.end))
            if self.end <= self.start:
                raise NedError(f"timeline: segment {self.start:g}-{self.end:g} s ends "
                               "before it starts")
        if self.emotion is not None and self.emotion not in EMOTIONS:
            raise NedError(f"timeline: unknown emotion {self.emotion!r}; choose one of "
                           f"{', '.join(EMOTIONS)}")
        object.__setattr__(self, "intensity", _number("intensity", self.intensity))
        lo, hi = INTENSITY_RANGE
        if not lo <= self.intensity <= hi:
            raise NedError(f"timeline: intensity {self.intensity:g} is outside [{lo}, {hi}]")
        object.__setattr__(self, "controls", normalise(self.controls))
        object.__setattr__(self, "ramp", _number("ramp", self.ramp))
        if self.ramp < 0:
            raise NedError("timeline: ramp must be >= 0")
        if self.emotion is None and not self.controls:
            raise NedError(f"timeline: segment at {self.start:g} s has neither an emotion "
                           "nor controls")

    @property
    def label(self) -> str:
        end = "" if self.end is None else f"{self.end:g}"
        what = self.emotion or "controls"
        if self.emotion is not None and self.intensity != 1.0:
            what += f"@{self.intensity:g}"
        if self.controls:
            what += f" [{describe(self.controls)}]"
        return f"{self.start:g}-{end}:{what}"


@dataclass(frozen=True)
class Keyframe:
    """Control values at one time.

    Attributes:
        time: seconds from the clip's first frame.
        controls: (name, value) pairs (zeros kept: a keyframe may bring a control to 0).
        easing: how the controls it names get here from the previous keyframe naming
            them: ``smooth`` (raised cosine), ``linear`` or ``hold`` (a step here).
    """

    time: float
    controls: tuple[tuple[str, float], ...]
    easing: str = "smooth"

    def __post_init__(self) -> None:
        object.__setattr__(self, "time", _number("a keyframe's time", self.time))
        if self.time < 0:
            raise NedError(f"timeline: keyframe at {self.time:g} s; times are >= 0")
        object.__setattr__(self, "controls", normalise(self.controls, keep_zeros=True))
        if not self.controls:
            raise NedError(f"timeline: keyframe at {self.time:g} s names no control")
        if self.easing not in EASINGS:
            raise NedError(f"timeline: unknown easing {self.easing!r}; choose one of "
                           f"{', '.join(EASINGS)}")


@dataclass(frozen=True)
class Curves:
    """A timeline evaluated on a clip's frames.

    Attributes:
        targets: the (emotion, intensity) pairs shown somewhere.
        weights: (T, len(targets)) float32 in [0, 1]: how much of each target each frame
            shows (ramps and cross-fades; the intensity is in the target).
        controls: (T, len(NAMES)) float32 in [-1, 1]: each control per frame.
    """

    targets: tuple[tuple[str, float], ...]
    weights: np.ndarray
    controls: np.ndarray

    @property
    def active(self) -> np.ndarray:
        """(T,) bool: frames that show some target or control."""
        return (self.weights > 0).any(1) | (self.controls != 0).any(1)


@dataclass(frozen=True)
class Timeline:
    """Segments, keyframes and constant controls over a clip (see the module docstring).

    Attributes:
        segments: in time order, not overlapping (adjacent ones cross-fade).
        keyframes: in time order.
        controls: (name, value) pairs for the whole clip.
    """

    segments: tuple[Segment, ...] = ()
    keyframes: tuple[Keyframe, ...] = ()
    controls: tuple[tuple[str, float], ...] = field(default=())

    def __post_init__(self) -> None:
        segs = tuple(sorted(self.segments, key=lambda s: s.start))
        for s in segs:
            if not isinstance(s, Segment):
                raise NedError("timeline: segments must be Segment records")
        for a, b in zip(segs, segs[1:]):
            if a.end is None or a.end > b.start + 1e-9:
                raise NedError(f"timeline: segments {a.label} and {b.label} overlap")
        object.__setattr__(self, "segments", segs)
        object.__setattr__(self, "keyframes",
                           tuple(sorted(self.keyframes, key=lambda k: k.time)))
        object.__setattr__(self, "controls", normalise(self.controls))
        if not (self.segments or self.keyframes or self.controls):
            raise NedError("timeline: it holds no segment, keyframe or control")

    # -- files ------------------------------------------------------------------------------
    @classmethod
    def from_json(cls, data: Any) -> Timeline:
        """A timeline from its JSON object; raises NedError naming what is wrong."""
        if not isinstance(data, dict):
            raise NedError("timeline: the file must hold a JSON object")
        if data.get("format") != FORMAT:
            raise NedError(f"timeline: not a ned timeline (format {data.get('format')!r}, "
                           f"expected {FORMAT!r})")
        if data.get("version") != VERSION:
            raise NedError(f"timeline: schema version {data.get('version')!r} is not "
                           f"supported (this ned reads version {VERSION})")
        unknown = sorted(set(data) - {"format", "version", "segments", "keyframes",
                                      "controls"})
        if unknown:
            raise NedError(f"timeline: unknown field(s) {', '.join(unknown)}")
        segments, keyframes = data.get("segments", []), data.get("keyframes", [])
        if not isinstance(segments, list) or not isinstance(keyframes, list):
            raise NedError("timeline: segments and keyframes must be lists")

        def obj(kind: str, d: Any, allowed: set[str], required: set[str]) -> dict:
            if not isinstance(d, dict):
                raise NedError(f"timeline: each {kind} must be an object, got {d!r}")
            bad = sorted(set(d) - allowed)
            if bad:
                raise NedError(f"timeline: unknown {kind} field(s) {', '.join(bad)}")
            missing = sorted(required - set(d))
            if missing:
                raise NedError(f"timeline: a {kind} lacks {', '.join(missing)}")
            return d

        def controls(d: Any) -> tuple:
            if not isinstance(d, dict):
                raise NedError(f"timeline: controls must be an object, got {d!r}")
            return tuple(d.items())

        segs, keys = [], []
        for d in segments:
            d = obj("segment", d, {"start", "end", "emotion", "intensity", "controls",
                                   "ramp"}, {"start"})
            segs.append(Segment(**{**d, "controls": controls(d.get("controls", {}))}))
        for d in keyframes:
            d = obj("keyframe", d, {"time", "controls", "easing"}, {"time", "controls"})
            keys.append(Keyframe(**{**d, "controls": controls(d["controls"])}))
        return cls(tuple(segs), tuple(keys), controls(data.get("controls", {})))

    def to_json(self) -> dict:
        """The JSON object of this timeline (what :meth:`from_json` reads)."""
        def seg(s: Segment) -> dict:
            d: dict[str, Any] = {"start": s.start, "end": s.end, "emotion": s.emotion,
                                 "intensity": s.intensity}
            if s.controls:
                d["controls"] = dict(s.controls)
            if s.ramp != RAMP:
                d["ramp"] = s.ramp
            return d

        out: dict[str, Any] = {"format": FORMAT, "version": VERSION,
                               "segments": [seg(s) for s in self.segments],
                               "keyframes": [{"time": k.time, "controls": dict(k.controls),
                                              "easing": k.easing} for k in self.keyframes]}
        if self.controls:
            out["controls"] = dict(self.controls)
        return out

    @classmethod
    def load(cls, path: str | os.PathLike) -> Timeline:
        """Read a timeline file (NedError: missing, not JSON, or not a valid timeline)."""
        p = Path(path)
        if p.is_dir():
            raise NedError(f"{p} is a folder, not a timeline file")
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NedError(f"no such timeline file: {p}") from None
        except (OSError, UnicodeDecodeError) as e:
            raise NedError(f"cannot read the timeline {p}: {e}") from None
        try:
            data = json.loads(text)
        except ValueError as e:
            raise NedError(f"timeline {p} is not valid JSON ({e})") from None
        return cls.from_json(data)

    def save(self, path: str | os.PathLike) -> Path:
        """Write this timeline as a JSON file (atomically)."""
        from ned.atomic import check_output, write_text

        p = check_output(path, suffixes=(".json",), what="timeline")
        write_text(p, self.dumps())
        return p

    def dumps(self) -> str:
        """The file's text."""
        return json.dumps(self.to_json(), indent=2) + "\n"

    # -- combining --------------------------------------------------------------------------
    def with_controls(self, controls: Sequence[tuple[str, float]]) -> Timeline:
        """This timeline with ``controls`` added to its constant controls (clipped to
        [-1, 1])."""
        merged = dict(self.controls)
        for k, v in controls:
            merged[k] = float(np.clip(merged.get(k, 0.0) + v, -1.0, 1.0))
        return Timeline(self.segments, self.keyframes, tuple(merged.items()))

    @property
    def emotions(self) -> tuple[str, ...]:
        """The emotions the segments show, in first-use order."""
        return tuple(dict.fromkeys(s.emotion for s in self.segments if s.emotion))

    def summary(self) -> str:
        """One line: segments, keyframed controls, constant controls."""
        parts = [s.label for s in self.segments]
        if self.keyframes:
            names = sorted({n for k in self.keyframes for n, _ in k.controls})
            parts.append(f"keyframes {len(self.keyframes)} ({', '.join(names)})")
        if self.controls:
            parts.append(describe(self.controls))
        return "; ".join(parts)

    # -- evaluation -------------------------------------------------------------------------
    def evaluate(self, times: np.ndarray, cuts: Sequence[int] = (),
                 duration: float | None = None) -> Curves:
        """Each frame's targets and controls.

        Args:
            times: (T,) seconds of the frames from the clip's first frame, increasing.
            cuts: frame indices where a new shot starts.
            duration: the clip's length in seconds (None: the last frame's time plus one
                frame's length); a segment reaching it does not ramp out.

        Returns:
            :class:`Curves`.
        """
        t = np.asarray(times, np.float64)
        if duration is None:
            step = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
            duration = float(t[-1]) + step if len(t) else 0.0
        cut_times = np.array(sorted(float(t[c]) for c in cuts if 0 < c < len(t)))
        targets = tuple(dict.fromkeys((s.emotion, s.intensity) for s in self.segments
                                      if s.emotion is not None))
        weights = np.zeros((len(t), len(targets)), np.float64)
        controls = np.zeros((len(t), len(NAMES)), np.float64)
        col = {n: k for k, n in enumerate(NAMES)}
        for i, s in enumerate(self.segments):
            before = self.segments[i - 1] if i > 0 else None
            after = self.segments[i + 1] if i + 1 < len(self.segments) else None
            w = _segment_weight(t, s, before, after, cut_times, duration)
            if s.emotion is not None:
                weights[:, targets.index((s.emotion, s.intensity))] += w
            for n, v in s.controls:
                controls[:, col[n]] += w * v
        for n in NAMES:
            keys = [(k.time, dict(k.controls)[n], k.easing) for k in self.keyframes
                    if n in dict(k.controls)]
            if keys:
                controls[:, col[n]] += _keyframe_curve(t, keys, cut_times)
        for n, v in self.controls:
            controls[:, col[n]] += v
        return Curves(targets, np.clip(weights, 0, 1).astype(np.float32),
                      np.clip(controls, -1, 1).astype(np.float32))


def _ease(x: np.ndarray, easing: str) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    if easing == "linear":
        return x
    if easing == "hold":
        return (x >= 1.0).astype(np.float64)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def _cut_in(cut_times: np.ndarray, lo: float, hi: float) -> float | None:
    """The first cut in [lo, hi], or None."""
    inside = cut_times[(cut_times >= lo) & (cut_times <= hi)]
    return float(inside[0]) if len(inside) else None


def _ramp(t: np.ndarray, lo: float, hi: float, cut_times: np.ndarray) -> np.ndarray:
    """0 before ``lo``, 1 after ``hi``, a raised cosine between; a step at a cut instead
    if one falls in [lo, hi]."""
    c = _cut_in(cut_times, lo, hi)
    if c is not None:
        return (t >= c - 1e-9).astype(np.float64)
    if hi <= lo:
        return (t >= lo).astype(np.float64)
    return _ease((t - lo) / (hi - lo), "smooth")


def _segment_weight(t: np.ndarray, s: Segment, before: Segment | None,
                    after: Segment | None, cut_times: np.ndarray,
                    duration: float) -> np.ndarray:
    r = s.ramp
    if s.start <= 1e-9:
        up = np.ones_like(t)                      # the clip's start: nothing to ramp from
    elif before is not None and before.end is not None and abs(before.end - s.start) < 1e-9:
        half = 0.5 * min(r, before.ramp)          # a cross-fade centred on the boundary
        up = _ramp(t, s.start - half, s.start + half, cut_times)
    else:
        up = _ramp(t, s.start, s.start + r, cut_times)
    end = s.end
    if end is None or end >= duration - 1e-9:
        down = np.ones_like(t)
    elif after is not None and abs(after.start - end) < 1e-9:
        half = 0.5 * min(r, after.ramp)
        down = 1.0 - _ramp(t, end - half, end + half, cut_times)
    else:
        down = 1.0 - _ramp(t, end - r, end, cut_times)
    return np.minimum(up, down)


def _keyframe_curve(t: np.ndarray, keys: list[tuple[float, float, str]],
                    cut_times: np.ndarray) -> np.ndarray:
    """One control's values at ``t`` from its keyframes (time, value, easing)."""
    out = np.full(len(t), keys[0][1], np.float64)
    for (t0, v0, _), (t1, v1, easing) in zip(keys, keys[1:]):
        span = (t >= t0) & (t < t1)
        c = _cut_in(cut_times, t0 + 1e-9, t1)
        if c is not None:   # never across a cut: hold, then the next value from the cut
            x = (t[span] >= c - 1e-9).astype(np.float64)
        elif t1 > t0:
            x = _ease((t[span] - t0) / (t1 - t0), easing)
        else:
            x = np.ones(int(span.sum()))
        out[span] = v0 + x * (v1 - v0)
    out[t >= keys[-1][0]] = keys[-1][1]
    return out


def parse_segments(text: str) -> Timeline:
    """The short form ``"0-2.5:happy,2.5-6:sad@0.6"`` (``start-end:emotion[@intensity]``,
    end may be left out: to the clip's end) as a timeline."""
    segs = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        span, colon, what = part.partition(":")
        start, dash, end = span.partition("-")
        if not colon or not dash or not what.strip():
            raise NedError(f"--segments: {part!r} is not start-end:emotion[@intensity]")
        emotion, at, level = what.strip().partition("@")
        try:
            a = float(start)
            b = float(end) if end.strip() else None
            i = float(level) if at else 1.0
        except ValueError:
            raise NedError(f"--segments: {part!r} has a time or intensity that is not a "
                           "number") from None
        segs.append(Segment(a, b, emotion.strip(), i))
    if not segs:
        raise NedError("--segments: no segment given")
    return Timeline(tuple(segs))
