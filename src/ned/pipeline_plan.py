"""Streamed planning of an edit: per frame, the measured and the edited landmarks and the
edit's strength, computed from analysis rows as they arrive.

Everything an edited frame needs is local in time: the manipulator's windows reach
``window - 1`` frames either side, the gap ramps ``gap_ramp + 1`` frames, the guards and
the geometry one frame. Only the face model's fit looks further, and it uses the first
``fit_frames`` frames with the face. Frames are planned in fixed blocks, so the plan
depends on the clip alone, never on how its rows were chunked (a live analysis and a
cached record give the same edit).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ned.analysis.stream import RowChunk
from ned.facemodel.fit import TrackFit
from ned.pipeline_geometry import edited_landmarks, fit_frames
from ned.robust import GuardConfig, edge_ramp, keep_lid_state, pose_weights

if TYPE_CHECKING:  # torch is imported only when a manipulator is loaded
    from ned.manipulator.infer import Manipulator


@dataclass(frozen=True)
class FramePlan:
    """What to do with one frame.

    Attributes:
        index: frame index.
        src: (478, 3) float32 measured landmarks, pixels (None: no face).
        dst: (478, 3) float32 edited landmarks, pixels (None: no face).
        weight: edit strength in [0, 1] (already applied to ``dst``).
        passed: why the frame is passed through unchanged ("no face", "outside range",
            "cut", "pose"), or None when it is edited.
        cut: a new shot starts at this frame.
    """

    index: int
    src: np.ndarray | None
    dst: np.ndarray | None
    weight: float
    passed: str | None
    cut: bool = False


@dataclass(frozen=True)
class PlanConfig:
    """Options of the planner.

    Attributes:
        intensity: 0 = the clip's own style, 1 = the target style.
        start, end: edited range in seconds (None = open).
        ramp: seconds of the raised-cosine ramps at ``start`` / ``end``.
        gain: factor on the geometric displacement.
        fit_frames: frames with the face the face model is fitted on (the first ones).
        fit_wait: frames after the first face frame after which the model is fitted on
            the face frames seen so far, however few.
        block: frames planned together.
    """

    intensity: float = 1.0
    start: float | None = None
    end: float | None = None
    ramp: float = 0.3
    gain: float = 1.0
    fit_frames: int = 45
    fit_wait: int = 900
    block: int = 32


class EditPlanner:
    """Turn a stream of analysis rows into one :class:`FramePlan` per frame, in order.

    Args:
        manip: the manipulator.
        style: (S,) target style.
        config: planner options.
        guards: :class:`ned.robust.GuardConfig`.
        size: (width, height) of the frames.
        fps: frame rate.
    """

    def __init__(self, manip: Manipulator, style: np.ndarray, config: PlanConfig,
                 guards: GuardConfig, size: tuple[int, int], fps: float) -> None:
        self.manip, self.style, self.cfg, self.guards = manip, style, config, guards
        self.size, self.fps = size, fps
        self.context = max(manip.window - 1, guards.gap_ramp + 1)
        self.fit: TrackFit | None = None
        self._lo = 0            # absolute index of the first buffered frame
        self._base = 0          # first frame not yet planned
        self._rows: dict[str, list] = {k: [] for k in
                                       ("valid", "lm", "bs", "tf", "ts", "cut", "seg")}
        self._first_valid: int | None = None

    # -- buffer ---------------------------------------------------------------------
    @property
    def _hi(self) -> int:
        return self._lo + len(self._rows["valid"])

    def _push(self, c: RowChunk) -> None:
        if c.start != self._hi:
            raise ValueError(f"chunk starts at {c.start}, expected {self._hi}")
        r = self._rows
        for k in range(len(c)):
            i, ok, cut = c.start + k, bool(c.valid[k]), bool(c.cut[k])
            prev = r["seg"][-1] if r["seg"] else -1
            seg = (prev if ok and prev >= 0 and not cut else i) if ok else -1
            r["valid"].append(ok), r["cut"].append(cut), r["seg"].append(seg)
            r["lm"].append(c.landmarks[k]), r["bs"].append(c.blendshapes[k])
            r["tf"].append(c.transforms[k]), r["ts"].append(float(c.timestamps[k]))
            if ok and self._first_valid is None:
                self._first_valid = i

    def _drop_before(self, index: int) -> None:
        k = index - self._lo
        if k > 0:
            for v in self._rows.values():
                del v[:k]
            self._lo = index

    def _col(self, name: str, a: int, b: int) -> np.ndarray:
        return np.asarray(self._rows[name][a - self._lo:b - self._lo])

    # -- planning -------------------------------------------------------------------
    def plans(self, chunks: Iterable[RowChunk]) -> Iterator[FramePlan]:
        """One plan per frame of ``chunks``, in order, as soon as it is decided."""
        for c in chunks:
            self._push(c)
            yield from self._ready(final=False)
        yield from self._ready(final=True)

    def _ready(self, final: bool) -> Iterator[FramePlan]:
        if self._first_valid is None:  # no face yet: nothing to wait for
            yield from self._pass_until(self._hi)
            return
        yield from self._pass_until(self._first_valid)
        if self.fit is None and not self._try_fit(final):
            return
        while self._base < self._hi:
            end = min(self._base + self.cfg.block, self._hi)
            if not final and end + self.context > self._hi:
                return
            if not final and end - self._base < self.cfg.block:
                return
            yield from self._plan_block(self._base, end, final)
            self._base = end
            self._drop_before(self._base - self.context)

    def _pass_until(self, index: int) -> Iterator[FramePlan]:
        for i in range(self._base, index):
            yield FramePlan(i, None, None, 0.0, "no face",
                            bool(self._rows["cut"][i - self._lo]))
        self._base = max(self._base, index)
        if self._first_valid is None:
            self._drop_before(self._base)

    def _try_fit(self, final: bool) -> bool:
        first, cfg = self._first_valid, self.cfg
        stop = min(self._hi, first + cfg.fit_wait)
        valid = self._col("valid", first, stop)
        idx = np.flatnonzero(valid)[:cfg.fit_frames] + first
        if not final and len(idx) < cfg.fit_frames and self._hi < first + cfg.fit_wait:
            return False
        lm = np.stack([self._rows["lm"][i - self._lo] for i in idx])
        bs = np.stack([self._rows["bs"][i - self._lo] for i in idx])
        self.fit = fit_frames(lm, bs, self.size, self.fps)
        return True

    def _run_ends(self, a: int, b: int, limit: int) -> np.ndarray:
        """(b - a,) end (exclusive) of the face run holding each frame of [a, b), or
        ``limit`` where the run goes on past it (meaningless on invalid frames)."""
        valid, cut = self._col("valid", a, limit), self._col("cut", a, limit)
        ends = np.empty(limit - a, np.int64)
        nxt = limit
        for k in range(limit - a - 1, -1, -1):
            ends[k] = nxt
            if not valid[k] or cut[k]:
                nxt = a + k
        return ends[:b - a]

    def _translate(self, a: int, b: int, ends: np.ndarray) -> np.ndarray:
        """(b - a, 52) edited blendshapes of frames [a, b) (measured where invalid)."""
        from ned.manipulator.infer import translate_run

        old = self._col("bs", a, b).astype(np.float32)
        new = old.copy()
        valid, seg = self._col("valid", a, b), self._col("seg", a, b)
        k = 0
        while k < b - a:
            if not valid[k]:
                k += 1
                continue
            run_a, run_b = int(seg[k]), int(ends[k])
            c0 = max(run_a, a + k - self.context)
            c1 = min(run_b, b + self.context)
            x = self._col("bs", c0, c1).astype(np.float32)
            y = translate_run(self.manip, x, self.style, self.cfg.intensity)
            stop = min(run_b, b)
            new[k:stop - a] = y[a + k - c0:stop - c0]
            k = stop - a
        return np.clip(new, 0.0, 1.0)

    def _weights(self, a: int, b: int, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(edit strength, range strength), each (b - a,) float32: time range x head pose
        x ramps after and before gaps and cuts (as :func:`ned.robust.gap_weights`)."""
        from ned.pipeline import edit_weights

        cfg, g = self.cfg, self.guards
        valid = self._col("valid", a, b)
        rng = edit_weights(self._col("ts", a, b), cfg.start, cfg.end, cfg.ramp)
        w = rng * pose_weights(self._col("tf", a, b), valid, g)
        i = np.arange(a, b)
        gap = edge_ramp(np.minimum(i - self._col("seg", a, b) + 1, ends - i), g.gap_ramp)
        return np.where(valid, w * gap, 0.0).astype(np.float32), rng

    def _plan_block(self, a: int, b: int, final: bool) -> Iterator[FramePlan]:
        valid, cut = self._col("valid", a, b), self._col("cut", a, b)
        old = self._col("bs", a, b).astype(np.float32)
        ends = self._run_ends(a, b, self._hi if final else min(self._hi, b + self.context))
        w, rng = self._weights(a, b, ends)
        new = keep_lid_state(old, self._translate(a, b, ends), self.guards)
        new = (old + w[:, None] * (new - old)).astype(np.float32)
        lm = self._col("lm", a, b).astype(np.float32)
        use = valid & (w > 0)
        dst = lm.copy()
        if use.any():
            dst[use] = edited_landmarks(self.fit, lm[use], np.ones(int(use.sum()), bool),
                                        old[use], new[use], self.cfg.gain)
        for k in range(b - a):
            if not valid[k]:
                yield FramePlan(a + k, None, None, 0.0, "no face", bool(cut[k]))
                continue
            why = (None if w[k] > 0 else "outside range" if rng[k] == 0 else
                   "cut" if cut[k] else "pose")
            yield FramePlan(a + k, lm[k], dst[k], float(w[k]), why, bool(cut[k]))
