"""Planning an edit directed by hand: expression controls and a timeline of emotions.

:class:`DirectedPlanner` plans like :class:`ned.editing.plan.EditPlanner` (the same
blocks, guards, lips' posture and fold-free step) with a per-frame target instead of one
style for the whole clip:

- each (emotion, intensity) the edit shows somewhere is a *part* planned by a plain
  :class:`EditPlanner` of that target (its own manipulator style, calibration and offsets,
  sharing this planner's rows and fitted model), weighted per frame by the timeline's
  ramps and cross-fades; per-emotion calibrations are cached like a plain edit's;
- the controls (:mod:`ned.editing.controls`) add their blendshape change on top, drawn
  with the FACS fields of their groups (``ExpressionBasis.for_fit`` with those groups
  raised, whatever an emotion does with them), and the gaze controls move the irises.

The displacements of the parts are summed in the face model's space
(:func:`ned.editing.geometry.mixed_landmarks`); the lips close by the share of the
targets whose lips close (``ned.facs.LIPS_CLOSED``). Speech is kept as in a plain edit:
each part keeps the source's syllables, and a control is a posture (a constant, or a
slow keyframed curve), so it never changes the lips' motion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ned.editing.config import EditConfig
from ned.editing.controls import BY_NAME, NAMES, blendshape_delta
from ned.editing.geometry import close_lips, keep_contact, mixed_landmarks
from ned.editing.guards import keep_lid_state
from ned.editing.plan import LIP_CLOSURE, EditPlanner, PlanConfig
from ned.editing.timeline import Curves
from ned.facs import group_indices

#: Eye corners (outer, inner) of the subject's right eye, then the left eye.
EYE_CORNERS = ((33, 133), (263, 362))
#: Iris points of the same eyes.
IRISES = ((468, 469, 470, 471, 472), (473, 474, 475, 476, 477))


@dataclass(frozen=True)
class Direction:
    """What each frame shows: the parts' weights and the controls.

    Attributes:
        weights: (T, P) float32 in [0, 1] per part (None: every part at 1 everywhere).
        controls: (T, C) float32 per control of :data:`ned.editing.controls.NAMES`, or
            (C,) for constant controls.
    """

    weights: np.ndarray | None
    controls: np.ndarray

    @classmethod
    def constant(cls, controls: Sequence[tuple[str, float]]) -> Direction:
        """Every part at full weight, constant controls (``--adjust`` without a
        timeline)."""
        values = np.zeros(len(NAMES), np.float32)
        for n, v in controls:
            values[NAMES.index(n)] = v
        return cls(None, values)

    @classmethod
    def from_curves(cls, curves: Curves) -> Direction:
        return cls(curves.weights, curves.controls)

    def at(self, a: int, b: int, parts: int) -> tuple[np.ndarray, np.ndarray]:
        """((b - a, parts), (b - a, C)) float32 of frames [a, b) (past the curves' end:
        nothing)."""
        n = b - a
        if self.controls.ndim == 1:
            return (np.ones((n, parts), np.float32),
                    np.repeat(self.controls[None], n, axis=0))
        w = np.zeros((n, parts), np.float32)
        c = np.zeros((n, len(NAMES)), np.float32)
        hi = min(b, len(self.controls))
        if hi > a:
            w[:hi - a] = self.weights[a:hi]
            c[:hi - a] = self.controls[a:hi]
        return w, c


class DirectedPlanner(EditPlanner):
    """An :class:`EditPlanner` whose target changes per frame (see the module docstring).

    Args:
        parts: one plain planner per (emotion or reference, intensity) shown; their rows
            and fitted model are this planner's.
        direction: per-frame weights of the parts and the controls.
        config: the edit's options (range, guards, render).
        size, fps, plan: as :class:`EditPlanner`.
    """

    def __init__(self, parts: Sequence[EditPlanner], direction: Direction,
                 config: EditConfig, size: tuple[int, int], fps: float,
                 plan: PlanConfig | None = None, manip=None) -> None:
        names = [n for n in NAMES if np.any(direction.controls[..., NAMES.index(n)] != 0)]
        groups = {BY_NAME[n].group for n in names} - {None}
        manip = manip if manip is not None else parts[0].manip
        super().__init__(manip, None, config, size, fps, plan, calibrate=None, raised=groups)
        self.lips_closed, self.posture = False, None
        self.parts = list(parts)
        self.direction = direction
        self._last_removal: tuple[tuple[int, int] | None, np.ndarray | None] = (None, None)
        self.gaze_on = any(BY_NAME[n].group is None for n in names)
        self.context = max([self.context] + [p.context for p in self.parts])
        for p in self.parts:
            p._rows = self._rows

    def _prepare(self) -> None:
        super()._prepare()                      # the controls' offsets (no calibration)
        done: dict[object, object] = {}
        for p in self.parts:
            p.fit, p.solver, p._first_valid = self.fit, self.solver, self._first_valid
            p._late_seen = self._late_seen
            key = (p.config.target.emotion, p.config.target.reference)
            if p.calibrate is not None and key in done:
                cached = done[key]
                p.calibrate = lambda _planner, c=cached: c
            p._prepare()
            done[key] = p.calibration

    def _removal(self, a, b, ends, use, w, new, basis):
        """The removal part of the last :meth:`_geometry` of frames [a, b): each part's
        change without the groups it raises, no controls (see ``EditPlanner._removal``)."""
        key, base = self._last_removal
        return base if key == (a, b) else None

    def _watch_late(self, stop: int) -> None:
        super()._watch_late(stop)
        for p in self.parts:                    # each emotion's removals
            p._watch_late(stop)

    @property
    def calibrations(self) -> dict[str, object]:
        """emotion (or reference) -> its calibration, for the parts that have one."""
        return {str(p.config.target.emotion or p.config.target.reference): p.calibration
                for p in self.parts if p.calibration is not None}

    def _weights(self, a: int, b: int, ends: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        w, rng, ramps = super()._weights(a, b, ends)
        parts, controls = self.direction.at(a, b, len(self.parts))
        active = ((parts > 0).any(1) | (controls != 0).any(1)).astype(np.float32)
        return w * active, rng * active, ramps

    def _geometry(self, a: int, b: int, ends: np.ndarray, use: np.ndarray, w: np.ndarray,
                  basis, translated: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
        rows = self._rows
        old = rows.take(rows.blendshapes, a, b).astype(np.float32)
        lm = rows.take(rows.landmarks, a, b).astype(np.float32)
        weights, controls = self.direction.at(a, b, len(self.parts))
        n = b - a
        new = old.copy()
        changes = []
        removals = []   # each part's change without the groups it raises
        posture = np.zeros((n,) + lm.shape[1:], np.float32)
        has_posture = False
        closure = np.zeros(n, np.float32)
        for k, p in enumerate(self.parts):
            wk = weights[:, k]
            if not (wk[use] > 0).any():
                continue
            d = keep_lid_state(old, p._translate(a, b, ends), self.guards) - old
            d *= (w * wk)[:, None]
            changes.append((p.basis, d))
            removal = d.copy()
            removal[:, [i for g in p.raised for i in group_indices(g)]] = 0.0
            removals.append((p.basis, removal))
            new += d
            if p.posture is not None:
                posture += (w * wk)[:, None, None] * p.posture
                has_posture = True
            if p.lips_closed:
                closure += wk
        if (controls != 0).any():
            d = keep_lid_state(old, old + blendshape_delta(controls), self.guards) - old
            d *= w[:, None]
            changes.append((self.basis, d))
            new += d
        dst, base = lm.copy(), lm.copy()
        if use.any():
            dst[use] = mixed_landmarks(self.fit, [(bs, d[use]) for bs, d in changes],
                                       lm[use], old[use], self.config.render.gain,
                                       posture[use] if has_posture else None)
            base[use] = mixed_landmarks(self.fit, [(bs, d[use]) for bs, d in removals],
                                        lm[use], old[use], self.config.render.gain, None)
            shut = use & (closure > 0)
            if shut.any():
                share = np.minimum(closure[shut], 1.0)[:, None, None]
                postures = self._postures(a, b, ends)[shut]
                for out in (dst, base):
                    closed = close_lips(lm[shut], out[shut], postures, LIP_CLOSURE * w[shut])
                    out[shut] = out[shut] + share * (closed - out[shut])
            # emotions keep the source's lip contact; hand-set controls may open the lips
            free = use & ~(controls != 0).any(1)
            if free.any():
                for out in (dst, base):
                    out[free] = keep_contact(lm[free], out[free])
        self._last_removal = ((a, b), base)
        return new, dst

    def _gaze(self, a: int, b: int, use: np.ndarray, w: np.ndarray, dst: np.ndarray
              ) -> np.ndarray | None:
        if not self.gaze_on:
            return None
        _, controls = self.direction.at(a, b, len(self.parts))
        right = controls[:, NAMES.index("gaze_right")] * BY_NAME["gaze_right"].level
        up = controls[:, NAMES.index("gaze_up")] * BY_NAME["gaze_up"].level
        lm = self._rows.take(self._rows.landmarks, a, b).astype(np.float32)
        out = np.zeros((b - a, 2, 2), np.float32)
        for e, ((outer, inner), iris) in enumerate(zip(EYE_CORNERS, IRISES)):
            span = lm[:, inner, :2] - lm[:, outer, :2]
            width = np.linalg.norm(span, axis=1)
            # the face's horizontal axis, pointing to the image's right
            x = span * np.where(span[:, :1] >= 0, 1.0, -1.0)
            x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-6)
            y_up = np.stack([x[:, 1], -x[:, 0]], 1)      # image y points down
            shift = (right * width)[:, None] * x + (up * width)[:, None] * y_up
            out[:, e] = shift * (w * use)[:, None]
            dst[:, list(iris), :2] += out[:, e][:, None]
        return out
