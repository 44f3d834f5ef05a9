"""Whether an edit shows its emotion: the target table's groups and geometric measures,
re-measured on the output.

Both clips are measured again by the analyser (``ned.analysis``); nothing here reads the
edit's own intended values. Three kinds of figures:

- :func:`group_levels`: the channel groups of ``ned.facs.GROUPS`` (a group is the mean of
  its blendshape channels), compared with the target table (``ned.facs.TARGETS``, ``REST``,
  ``FLOORS``, ``CEILINGS``) in :func:`expression_scores`.
- :func:`geometric_changes`: what the analyser's blendshapes cannot see (mouthFrown,
  mouthPress, eyeWide; ``ned.facs.GEOMETRIC_FLOORS``) measured on the landmarks instead, as
  the change edited - source per frame, in inter-ocular distances (IOD) in a face frame
  (rotated by the eye line, so tilted heads measure the same).
- :func:`syllable_amplitude`: how much the lips move with the syllables (the speech's
  fast motion, the slow posture removed); ``ned.metrics.speech`` reports the edited /
  source ratio.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ned import facs
from ned.blendshapes import EMOTIONS, N_BLENDSHAPES
from ned.errors import NedError
from ned.facegeom import (
    GEOMETRIC_MEASURES,
    geometric_changes,
)
from ned.metrics.jsonable import FlatRecord
from ned.records import FaceTrack

#: A targeted group is reached when its re-measured mean is at least this share of the
#: target level (the acceptance "within 25 % of the target table").
REACH_SHARE = 0.75

#: Moving-average length (s) removed before :func:`syllable_amplitude`'s deviation.
SYLLABLE_WINDOW_S = 0.5


def _check_blendshapes(blendshapes: np.ndarray) -> np.ndarray:
    b = np.asarray(blendshapes, np.float64)
    if b.ndim != 2 or b.shape[1] != N_BLENDSHAPES:
        raise NedError(f"blendshapes must be (T, {N_BLENDSHAPES}), got {b.shape}")
    return b


def group_levels(blendshapes: np.ndarray) -> dict[str, np.ndarray]:
    """The level of every channel group of ``ned.facs.GROUPS`` per frame.

    Args:
        blendshapes: (T, 52) channel values, ``BLENDSHAPE_NAMES`` order.

    Returns:
        group -> (T,) float64 mean of the group's channels (``GROUPS`` order).

    Raises:
        NedError: not a (T, 52) array.
    """
    b = _check_blendshapes(blendshapes)
    return {g: b[:, facs.group_indices(g)].mean(1) for g in facs.GROUPS}


def syllable_amplitude(opening: np.ndarray, fps: float) -> float:
    """How much the lips move with the syllables: the standard deviation of the inner-lip
    opening after removing its centred moving average over :data:`SYLLABLE_WINDOW_S`.

    The window is the odd number of frames nearest 0.5 s (13 at 25 fps, 15 at 30); a
    frame counts only when its whole window is finite, so NaN marks frames without a face
    (and the first and last half-window are left out).

    Args:
        opening: (T,) inner-lip opening (``ned.topology.inner_lip_gap``, IOD), NaN where
            not measured.
        fps: frame rate (> 0).

    Returns:
        The deviation (the opening's units); NaN when fewer than 2 frames count.

    Raises:
        NedError: not a 1-D series, or fps <= 0.
    """
    x = np.asarray(opening, np.float64)
    if x.ndim != 1:
        raise NedError(f"the opening must be a (T,) series, got shape {x.shape}")
    if not np.isfinite(fps) or fps <= 0:
        raise NedError(f"fps must be > 0, got {fps}")
    half = max(1, int(round((SYLLABLE_WINDOW_S * fps - 1) / 2)))
    w = 2 * half + 1
    if len(x) < w:
        return float("nan")
    ok = np.isfinite(x)
    kernel = np.ones(w)
    sums = np.convolve(np.where(ok, x, 0.0), kernel, "valid")
    full = np.convolve(ok.astype(np.float64), kernel, "valid") == w
    resid = (x[half:len(x) - half] - sums / w)[full]
    return float(resid.std()) if len(resid) >= 2 else float("nan")


@dataclass(frozen=True)
class GroupScore(FlatRecord):
    """One channel group of the target table, re-measured (:func:`expression_scores`).

    Attributes:
        source, edited: mean level over the frames used (None without frames).
        target: the table's level for the target emotion (``TARGETS``, else ``REST``).
        targeted: whether the target emotion names this group.
        floor: ``FLOORS``' least level for it (targeted groups only), else None.
        ceiling: ``CEILINGS``' most level (a grin that must go), else None.
        reached: targeted groups: edited >= :data:`REACH_SHARE` x target; None otherwise.
        within_ceiling: edited <= ceiling; None without a ceiling.
        geometric: the measure standing in for the group where the analyser cannot see it
            (``GEOMETRIC_FLOORS``; targeted groups only), else None.
        shown: targeted groups: reached, or the geometric measure at its floor; None
            otherwise.
    """

    source: float | None
    edited: float | None
    target: float
    targeted: bool
    floor: float | None = None
    ceiling: float | None = None
    reached: bool | None = None
    within_ceiling: bool | None = None
    geometric: str | None = None
    shown: bool | None = None


@dataclass(frozen=True)
class GeometricScore(FlatRecord):
    """One geometric measure, mean over the frames used (:func:`expression_scores`).

    Attributes:
        change: mean change edited - source (IOD), None without frames.
        group: the group it stands in for (``GEOMETRIC_FLOORS``), else None.
        floor: the floor (IOD) when the target emotion names that group, else None.
        reached: change >= floor; None without a floor.
    """

    change: float | None
    group: str | None = None
    floor: float | None = None
    reached: bool | None = None


@dataclass(frozen=True)
class ExpressionScores:
    """Whether the edited clip shows the target emotion, by the target table
    (``ned.facs``), both clips re-measured by the analyser (:func:`expression_scores`).

    Attributes:
        target: the target emotion (intensity 1: the table's levels).
        frames: frames used (both clips hold the face).
        groups: group -> :class:`GroupScore`, ``ned.facs.GROUPS`` order.
        geometric: measure -> :class:`GeometricScore`, :data:`GEOMETRIC_MEASURES` order.
        passed: every targeted group shown and every ceiling kept (None without frames).
    """

    target: str
    frames: int
    groups: dict[str, GroupScore]
    geometric: dict[str, GeometricScore]
    passed: bool | None

    @property
    def targeted(self) -> tuple[str, ...]:
        """The groups the target emotion names, in ``GROUPS`` order."""
        return tuple(g for g, s in self.groups.items() if s.targeted)

    def to_json(self) -> dict[str, Any]:
        """The scores as a dict: target, frames, groups and geometric (nested, one dict per
        group / measure), passed."""
        return {"target": self.target, "frames": self.frames,
                "groups": {g: s.to_json() for g, s in self.groups.items()},
                "geometric": {m: s.to_json() for m, s in self.geometric.items()},
                "passed": self.passed}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExpressionScores:
        """Inverse of :meth:`to_json`."""
        return cls(target=data["target"], frames=data["frames"],
                   groups={g: GroupScore.from_json(s) for g, s in data["groups"].items()},
                   geometric={m: GeometricScore.from_json(s)
                              for m, s in data["geometric"].items()},
                   passed=data["passed"])


def _mean(x: np.ndarray) -> float | None:
    return float(x.mean()) if len(x) else None


def expression_scores(source: FaceTrack, edited: FaceTrack, target: str) -> ExpressionScores:
    """The target table's groups and the geometric measures of an edit, over the frames
    where both tracks (analyses of the source and of the edited clip, one length T) hold
    the face.

    Args:
        source, edited: the two clips' FaceTracks, both from the analyser.
        target: the emotion the edit aimed at (one of ``EMOTIONS``).

    Returns:
        An :class:`ExpressionScores`.

    Raises:
        NedError: an unknown emotion, or tracks of different length.
    """
    if target not in EMOTIONS:
        raise NedError(f"unknown target emotion {target!r}; choose from {', '.join(EMOTIONS)}")
    if source.n_frames != edited.n_frames:
        raise NedError(f"tracks differ in length: {source.n_frames} vs {edited.n_frames} "
                       "frames")
    v = source.valid & edited.valid
    n = int(v.sum())
    ls, le = group_levels(source.blendshapes[v]), group_levels(edited.blendshapes[v])
    if n:
        changes = geometric_changes(source.landmarks[v], edited.landmarks[v])
    else:
        changes = {m: np.zeros(0) for m in GEOMETRIC_MEASURES}
    named, floors = facs.TARGETS[target], facs.FLOORS[target]
    ceilings = facs.CEILINGS.get(target, {})
    levels = facs.emotion_groups(target)
    by_group = {g: m for g, (m, _) in facs.GEOMETRIC_FLOORS.items()}

    geometric = {}
    for m in GEOMETRIC_MEASURES:
        change = _mean(changes[m])
        group = next((g for g, (mm, _) in facs.GEOMETRIC_FLOORS.items() if mm == m), None)
        floor = facs.GEOMETRIC_FLOORS[group][1] if group in named else None
        reached = (change >= floor if floor is not None and change is not None else None)
        geometric[m] = GeometricScore(change=change, group=group, floor=floor, reached=reached)

    groups = {}
    for g in facs.GROUPS:
        src, edt = _mean(ls[g]), _mean(le[g])
        targeted = g in named
        ceiling = ceilings.get(g)
        reached = (edt >= REACH_SHARE * levels[g]) if targeted and edt is not None else None
        within = (edt <= ceiling) if ceiling is not None and edt is not None else None
        geo = by_group.get(g) if targeted else None
        shown = None
        if targeted and edt is not None:
            shown = bool(reached) or bool(geo is not None and geometric[geo].reached)
        groups[g] = GroupScore(source=src, edited=edt, target=levels[g], targeted=targeted,
                               floor=floors.get(g) if targeted else None, ceiling=ceiling,
                               reached=reached, within_ceiling=within, geometric=geo,
                               shown=shown)
    passed = None
    if n:
        passed = (all(s.shown for s in groups.values() if s.targeted)
                  and all(s.within_ceiling for s in groups.values()
                          if s.within_ceiling is not None))
    return ExpressionScores(target=target, frames=n, groups=groups, geometric=geometric,
                            passed=passed)
