"""Streamed planning of an edit: per frame, the measured and the edited landmarks and the
edit's strength, computed from analysis rows as they arrive.

Everything an edited frame needs is local in time: the manipulator's windows reach
``window - 1`` frames either side, the gap ramps ``gap_ramp + 1`` frames, the lips'
posture half a second (:func:`ned.editing.geometry.posture_window` - 1 frames), the
guards and the fold-free geometry one frame. Only the face model's fit (and the clip's
calibration) look further, and they use the first ``fit_frames`` frames with the face.
Frames are planned in fixed blocks, so the plan depends on the clip alone, never on how
its rows were chunked (a live analysis and a cached record give the same edit).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ned.analysis.stream import RowChunk
from ned.blendshapes import BLENDSHAPE_NAMES
from ned.editing.config import EditConfig, Limit, PassReason
from ned.editing.geometry import (
    ExpressionBasis,
    close_lips,
    edited_landmarks,
    emotion_posture,
    envelope_reach,
    exercised,
    initial_gains,
    keep_contact,
    late_offsets,
    lower_envelope,
    pair_openings,
    posture_window,
    rise_floor,
)
from ned.editing.guards import (
    edge_ramp,
    keep_lid_state,
    lids_closing,
    pose_weights,
    range_weights,
)
from ned.facemodel.deform import ArapSolver, fold_free
from ned.facemodel.fit import TrackFit, fit_frames
from ned.facs import GROUPS, LIPS_CLOSED, SPEECH_GROUPS, TARGETS, group_indices

if TYPE_CHECKING:  # the manipulator's module is imported only when one is loaded
    from ned.manipulator.infer import Manipulator


@dataclass(frozen=True)
class FramePlan:
    """What to do with one frame.

    Attributes:
        index: frame index.
        src: (478, 3) float32 measured landmarks, pixels (None: no face).
        dst: (478, 3) float32 edited landmarks, pixels, with no mesh triangle folded
            (None: no face).
        weight: edit strength in [0, 1] (already applied to ``dst``).
        passed: why the frame is passed through unchanged, or None when it is edited.
        cut: a new shot starts at this frame.
        reached: fraction of the full target the frame shows: the edit strength times
            the share of the edited geometry kept against folds (0 when passed).
        limits: why it shows less than the full target.
        gaze: (2, 2) float32 pixels each iris moves inside its eye (right eye, then
            left; drawn by :class:`ned.editing.gaze.GazeRenderer`), None: none.
    """

    index: int
    src: np.ndarray | None
    dst: np.ndarray | None
    weight: float
    passed: PassReason | None
    cut: bool = False
    reached: float = 0.0
    limits: tuple[Limit, ...] = ()
    gaze: np.ndarray | None = None

    @property
    def shrunk(self) -> bool:
        """Part of the geometry was held back so that no triangle folds over."""
        return Limit.FOLDS in self.limits


@dataclass(frozen=True)
class PlanConfig:
    """How the planner works through the stream (not what it edits: see EditConfig).

    Attributes:
        fit_frames: frames with the face the face model is fitted on (the first ones).
        fit_wait: frames after the first face frame after which the model is fitted on
            the face frames seen so far, however few.
        block: frames planned together.
    """

    fit_frames: int = 45
    fit_wait: int = 900
    block: int = 32


class _Rows:
    """The planner's window of analysis rows: frames ``lo`` to ``hi`` (exclusive).

    Attributes hold one entry per frame; ``seg`` is the first frame of the frame's run of
    face frames (-1 where there is no face); ``after_gap`` says the run started after
    frames without the face (not at the clip's start or at a cut).
    """

    def __init__(self) -> None:
        self.lo = 0
        self.valid: list[bool] = []
        self.cut: list[bool] = []
        self.seg: list[int] = []
        self.after_gap: list[bool] = []
        self.landmarks: list[np.ndarray] = []
        self.blendshapes: list[np.ndarray] = []
        self.transforms: list[np.ndarray] = []
        self.timestamps: list[float] = []

    @property
    def hi(self) -> int:
        return self.lo + len(self.valid)

    def push(self, c: RowChunk) -> None:
        """Append a chunk (it must start at :attr:`hi`)."""
        if c.start != self.hi:
            raise ValueError(f"chunk starts at {c.start}, expected {self.hi}")
        for k in range(len(c)):
            i, ok, cut = c.start + k, bool(c.valid[k]), bool(c.cut[k])
            prev = self.seg[-1] if self.seg else -1
            same_run = ok and prev >= 0 and not cut
            self.seg.append((prev if same_run else i) if ok else -1)
            self.after_gap.append(self.after_gap[-1] if same_run else
                                  ok and i > 0 and prev < 0 and not cut)
            self.valid.append(ok)
            self.cut.append(cut)
            self.landmarks.append(c.landmarks[k])
            self.blendshapes.append(c.blendshapes[k])
            self.transforms.append(c.transforms[k])
            self.timestamps.append(float(c.timestamps[k]))

    def drop_before(self, index: int) -> None:
        """Forget frames before ``index``."""
        k = index - self.lo
        if k > 0:
            for column in (self.valid, self.cut, self.seg, self.after_gap, self.landmarks,
                           self.blendshapes,
                           self.transforms, self.timestamps):
                del column[:k]
            self.lo = index

    def take(self, column: list, a: int, b: int) -> np.ndarray:
        """Frames [a, b) of one of this buffer's columns, as an array."""
        return np.asarray(column[a - self.lo:b - self.lo])

    def at(self, column: list, i: int):
        """Frame ``i`` of a column."""
        return column[i - self.lo]


#: Seconds over which the manipulator's change of a speech channel is averaged: what is
#: left is the posture change an emotion may make; the motion stays the source's.
SPEECH_POSTURE_S = 0.5
#: The channels that shape the mouth (``mouth*`` and ``jaw*``): the edit changes their
#: level slowly (its change averaged over :data:`SPEECH_POSTURE_S`), so that what moves
#: with each syllable stays the source's. A smile removed frame by frame follows the
#: analyser's frame-to-frame reading of it, which moves with the speech: taken out at
#: full rate it took the syllables with it (single_face, fear: the planned opening's
#: syllable amplitude 0.80 of the source's, 0.97 with the change averaged).
MOUTH_CHANNELS = tuple(i for i, name in enumerate(BLENDSHAPE_NAMES)
                       if name.startswith(("mouth", "jaw")))
#: Seconds of the lips' posture window (:func:`ned.editing.geometry.posture_window`).
LIP_POSTURE_S = 0.5
#: Share of the source lips' posture (their parting between syllables) a closed-lips
#: target removes.
LIP_CLOSURE = 0.5
#: A group the target lowers that the fit's frames did not exercise (a grin that starts
#: after the first seconds) is watched on the later frames: once :data:`LATE_FRAMES` of
#: them show it at :data:`LATE_LEVEL` or more, the clip's own offsets of it are fitted on
#: the fit's frames plus those (``geometry.late_offsets``) and the edit removes it with
#: them from the next block on, as it would a group the fit's frames exercised (measured
#: on single_face with its grin starting after 3.6 s, angry: mouthSmile 0.50 left of 0.82
#: with the FACS field's removal).
LATE_LEVEL = 0.3
LATE_FRAMES = 10


class CalibrationResult(Protocol):
    """What a calibration gives the planner (``ned.editing.calibrate.Calibration``)."""

    gains: Mapping[str, float]


#: A per-clip calibration: called once the model is fitted, it may plan sample frames
#: with :meth:`EditPlanner.sample_geometry` and returns the gains of the channel groups.
Calibrate = Callable[["EditPlanner"], CalibrationResult]


class EditPlanner:
    """Turn a stream of analysis rows into one :class:`FramePlan` per frame, in order.

    Args:
        manip: the manipulator.
        style: (S,) target style.
        config: the edit's options (target, time range, gain, guards).
        size: (width, height) of the frames.
        fps: frame rate.
        plan: how the stream is worked through (fit frames, block size).
        calibrate: the clip's calibration (None: the start gains).
        raised: the channel groups the target raises (None: the target emotion's groups
            of ``ned.facs.TARGETS``, or every group for a reference); the others it lowers.
    """

    def __init__(self, manip: Manipulator, style: np.ndarray, config: EditConfig,
                 size: tuple[int, int], fps: float, plan: PlanConfig | None = None,
                 calibrate: Calibrate | None = None,
                 raised: Collection[str] | None = None) -> None:
        self.manip, self.style, self.config = manip, style, config
        self.plan_cfg = plan or PlanConfig()
        self.guards = config.guards
        self.size, self.fps = size, fps
        self.calibrate = calibrate
        emotion = config.target.emotion
        if raised is None:
            raised = GROUPS if emotion is None else TARGETS[emotion]
        self.raised = frozenset(raised)
        self.lips_closed = config.target.emotion in LIPS_CLOSED
        self.posture = emotion_posture(emotion, config.target.intensity)
        self.lip_width = posture_window(fps, LIP_POSTURE_S)
        # frames either side the manipulator's change needs, and all the planner needs
        # (the lips' posture reads further: ``envelope_reach``)
        self.near = max(manip.window - 1, self.guards.gap_ramp + 1, self.lip_width - 1)
        self.context = max(self.near, envelope_reach(self.lip_width))
        self.fit: TrackFit | None = None
        self.basis: ExpressionBasis | None = None
        self.solver: ArapSolver | None = None
        self.calibration: CalibrationResult | None = None
        self._sampled: tuple[tuple | None, np.ndarray | None] = (None, None)
        self._rows = _Rows()
        self._base = 0          # first frame not yet planned
        self._first_valid: int | None = None
        # lowered groups the fit's frames did not exercise: frames showing each, kept
        # (landmarks, blendshapes) until LATE_FRAMES of them are seen; their own offsets
        self._watched: dict[str, list[tuple[int, np.ndarray, np.ndarray]]] = {}
        self._late_seen = 0     # first frame the watch has not looked at
        self._own: dict[str, np.ndarray] = {}

    # -- planning -------------------------------------------------------------------
    def plans(self, chunks: Iterable[RowChunk]) -> Iterator[FramePlan]:
        """One plan per frame of ``chunks``, in order, as soon as it is decided."""
        for c in chunks:
            self._rows.push(c)
            if self._first_valid is None and c.valid.any():
                self._first_valid = c.start + int(np.argmax(c.valid))
            yield from self._ready(final=False)
        yield from self._ready(final=True)

    def _ready(self, final: bool) -> Iterator[FramePlan]:
        hi, block = self._rows.hi, self.plan_cfg.block
        if self._first_valid is None:  # no face yet: nothing to wait for
            yield from self._pass_until(hi)
            return
        yield from self._pass_until(self._first_valid)
        if self.fit is None and not self._try_fit(final):
            return
        while self._base < hi:
            end = min(self._base + block, hi)
            if not final and (end + self.context > hi or end - self._base < block):
                return
            yield from self._plan_block(self._base, end, final)
            self._base = end
            self._rows.drop_before(self._base - self.context)

    def _pass_until(self, index: int) -> Iterator[FramePlan]:
        rows = self._rows
        for i in range(self._base, index):
            yield FramePlan(i, None, None, 0.0, PassReason.NO_FACE, bool(rows.at(rows.cut, i)))
        self._base = max(self._base, index)
        if self._first_valid is None:
            rows.drop_before(self._base)

    def _try_fit(self, final: bool) -> bool:
        rows, first, cfg = self._rows, self._first_valid, self.plan_cfg
        stop = min(rows.hi, first + cfg.fit_wait)
        idx = np.flatnonzero(rows.take(rows.valid, first, stop))[:cfg.fit_frames] + first
        if not final and len(idx) < cfg.fit_frames and rows.hi < first + cfg.fit_wait:
            return False
        lm = np.stack([rows.at(rows.landmarks, i) for i in idx])
        bs = np.stack([rows.at(rows.blendshapes, i) for i in idx])
        self.fit = fit_frames(lm, bs, self.size)
        self.solver = ArapSolver(np.median(lm, axis=0))
        self._late_seen = int(idx[-1]) + 1
        self._prepare()
        return True

    def _prepare(self) -> None:
        """Once the model is fitted: the edit's offsets, calibrated on the clip if asked."""
        self.basis = ExpressionBasis.for_fit(self.fit, raised=self.raised)
        if self.calibrate is not None:
            self.calibration = self.calibrate(self)
            self.basis = ExpressionBasis.for_fit(self.fit, self.calibration.gains, self.raised)
        seen = np.asarray(self.fit.expressions)[np.asarray(self.fit.valid, bool)]
        self._watched = {g: [] for g in GROUPS
                         if g not in self.raised and not exercised(seen, g)}

    def _watch_late(self, stop: int) -> None:
        """Look at the rows not seen yet before ``stop`` for the watched groups
        (:data:`LATE_LEVEL`); fit the own offsets of those shown on :data:`LATE_FRAMES`
        frames and edit with them. (``stop`` is the planned block's end plus the context,
        not the rows at hand, so a first edit, whose rows arrive as they are analysed, and
        a cached one decide alike.)"""
        rows = self._rows
        a, b = max(self._late_seen, rows.lo), min(rows.hi, stop)
        if not self._watched or b <= a:
            return
        self._late_seen = b
        valid = rows.take(rows.valid, a, b)
        bs = rows.take(rows.blendshapes, a, b)
        for g, kept in self._watched.items():
            level = bs[:, group_indices(g)].mean(1)
            for k in np.flatnonzero(valid & (level >= LATE_LEVEL))[:LATE_FRAMES - len(kept)]:
                kept.append((a + int(k), rows.at(rows.landmarks, a + int(k)), bs[k]))
        ready = [g for g, kept in self._watched.items() if len(kept) >= LATE_FRAMES]
        if not ready:
            return
        frames = {row[0]: row for g in ready for row in self._watched[g]}.values()
        lm = np.stack([r[1] for r in frames]).astype(np.float32)
        shown = np.stack([r[2] for r in frames]).astype(np.float32)
        self._own.update(late_offsets(self.fit, lm, shown, ready))
        for g in ready:
            del self._watched[g]
        gains = self.calibration.gains if self.calibration is not None else None
        self.basis = ExpressionBasis.for_fit(self.fit, gains, self.raised, own=self._own)

    def _run_ends(self, a: int, b: int, limit: int) -> np.ndarray:
        """(b - a,) end (exclusive) of the face run holding each frame of [a, b), or
        ``limit`` where the run goes on past it (meaningless on invalid frames)."""
        rows = self._rows
        valid, cut = rows.take(rows.valid, a, limit), rows.take(rows.cut, a, limit)
        ends = np.empty(limit - a, np.int64)
        nxt = limit
        for k in range(limit - a - 1, -1, -1):
            ends[k] = nxt
            if not valid[k] or cut[k]:
                nxt = a + k
        return ends[:b - a]

    def _runs(self, a: int, b: int, ends: np.ndarray) -> Iterator[tuple[int, int, int, int]]:
        """The runs of face frames meeting [a, b): (k0, k1, run start, run end), frames
        [a + k0, a + k1) of the block in the run [run start, run end)."""
        rows = self._rows
        valid, seg = rows.take(rows.valid, a, b), rows.take(rows.seg, a, b)
        k = 0
        while k < b - a:
            if not valid[k]:
                k += 1
                continue
            run_a, run_b = int(seg[k]), int(ends[k])
            stop = min(run_b, b) - a
            yield k, stop, run_a, run_b
            k = stop

    def _translate(self, a: int, b: int, ends: np.ndarray, intensity: float | None = None
                   ) -> np.ndarray:
        """(b - a, 52) edited blendshapes of frames [a, b) (measured where invalid), at
        ``intensity`` (None: the edit's).

        The speech channels keep the source's motion: the manipulator may change their
        posture only (the slow part of its change, a :data:`SPEECH_POSTURE_S` moving
        average), so a syllable clipped at 0 under a removed grin still opens and closes;
        and only for targets whose lips close (``ned.facs.LIPS_CLOSED``), else only on the
        speech channels the target raises (``ned.facs.SPEECH_GROUPS``). They are not clipped
        to [0, 1] (the geometry extrapolates the rig there); the other channels are, then
        the target's groups rise by at least their floor (``geometry.rise_floor``). The
        other mouth channels (:data:`MOUTH_CHANNELS`) change by the slow part of their
        change too: their level is the target's, their motion the source's.
        """
        from scipy.ndimage import uniform_filter1d

        from ned.manipulator.infer import translate_run

        rows = self._rows
        new = rows.take(rows.blendshapes, a, b).astype(np.float32)
        speech = self.manip.speech_idx
        # the channels whose posture the target may change: every speech channel when the
        # lips close, else only those the target raises (disgust's upper lip)
        posture = (speech if self.lips_closed else
                   [i for g in SPEECH_GROUPS if g in self.raised
                    for i in group_indices(g) if i in speech])
        # every channel whose change is taken slowly: those postures and the other
        # mouth channels
        slowed = sorted(set(posture) | {i for i in MOUTH_CHANNELS if i not in speech})
        width = max(1, int(round(SPEECH_POSTURE_S * self.fps)) | 1)
        for k0, k1, run_a, run_b in self._runs(a, b, ends):
            c0, c1 = max(run_a, a + k0 - self.near), min(run_b, b + self.near)
            x = rows.take(rows.blendshapes, c0, c1).astype(np.float32)
            level = self.config.target.intensity if intensity is None else intensity
            y = np.clip(translate_run(self.manip, x, self.style, level), 0.0, 1.0)
            y = rise_floor(x, y, self.config.target.emotion, level)
            slow = x[:, slowed] + uniform_filter1d(y[:, slowed] - x[:, slowed], width,
                                                   axis=0, mode="nearest")
            y[:, speech] = x[:, speech]          # the source's motion (and posture) ...
            y[:, slowed] = slow                  # ... with the target's posture, if it may
            new[k0:k1] = y[a + k0 - c0:a + k1 - c0]
        return new

    def _postures(self, a: int, b: int, ends: np.ndarray) -> np.ndarray:
        """(b - a, 9) the source lips' posture (slow floor of each inner-lip pair's
        opening) of frames [a, b), computed over each frame's run of face frames."""
        rows = self._rows
        out = np.zeros((b - a, 9))
        for k0, k1, run_a, run_b in self._runs(a, b, ends):
            c0, c1 = max(run_a, a + k0 - self.context), min(run_b, b + self.context)
            lm = rows.take(rows.landmarks, c0, c1).astype(np.float32)
            out[k0:k1] = lower_envelope(pair_openings(lm), self.lip_width)[a + k0 - c0:
                                                                           a + k1 - c0]
        return out

    def _weights(self, a: int, b: int, ends: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(strength, range part, ramp part), each (b - a,) float32: strength = time
        range x head pose x ramps after and before gaps in the face (not at the clip's ends
        or at cuts: nothing precedes the first frame of a shot, so the edit starts there at
        full strength)."""
        rows, rng_cfg, g = self._rows, self.config.range, self.guards
        valid = rows.take(rows.valid, a, b)
        rng = range_weights(rows.take(rows.timestamps, a, b), rng_cfg.start, rng_cfg.end,
                            rng_cfg.ramp)
        w = rng * pose_weights(rows.take(rows.transforms, a, b), valid, g)
        i = np.arange(a, b)
        far = np.iinfo(np.int32).max
        since = np.where(rows.take(rows.after_gap, a, b), i - rows.take(rows.seg, a, b) + 1, far)
        before_gap = np.array([e < rows.hi and not rows.at(rows.valid, int(e)) for e in ends])
        until = np.where(before_gap, ends - i, far)
        gap = edge_ramp(np.minimum(since, until), g.gap_ramp)
        return np.where(valid, w * gap, 0.0).astype(np.float32), rng, rng * gap

    def _geometry(self, a: int, b: int, ends: np.ndarray, use: np.ndarray, w: np.ndarray,
                  basis: ExpressionBasis, translated: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Edited blendshapes and landmarks of frames [a, b) at strength ``w``, moved on
        the frames ``use`` (the others keep the measured ones): ((b - a, 52),
        (b - a, 478, 3) float32, before the fold-free step). ``translated``: the
        manipulator's output for these frames, if already known."""
        rows = self._rows
        old = rows.take(rows.blendshapes, a, b).astype(np.float32)
        if translated is None:
            translated = self._translate(a, b, ends)
        new = keep_lid_state(old, translated, self.guards)
        new = (old + w[:, None] * (new - old)).astype(np.float32)
        lm = rows.take(rows.landmarks, a, b).astype(np.float32)
        dst = lm.copy()
        if use.any():
            dst[use] = edited_landmarks(self.fit, basis, lm[use], old[use], new[use],
                                        self.config.render.gain, self.posture, w[use])
            if self.lips_closed:
                dst[use] = close_lips(lm[use], dst[use], self._postures(a, b, ends)[use],
                                      LIP_CLOSURE * w[use])
            dst[use] = keep_contact(lm[use], dst[use])
        return new, dst

    def _removal(self, a: int, b: int, ends: np.ndarray, use: np.ndarray, w: np.ndarray,
                 new: np.ndarray, basis: ExpressionBasis) -> np.ndarray | None:
        """(b - a, 478, 3) float32 the edit of frames [a, b) without what the target
        raises: the other emotions' expressions removed (the lips' posture closed where
        the target closes them), nothing drawn over them; the fold repair keeps it
        (``fold_free``'s ``base``). None when the target raises every group.

        Args:
            new: (b - a, 52) the edit's blendshapes (:meth:`_geometry`'s first result).
        """
        raised = [i for g in self.raised for i in group_indices(g)]
        if not set(GROUPS) - self.raised:
            return None
        rows = self._rows
        old = rows.take(rows.blendshapes, a, b).astype(np.float32)
        lm = rows.take(rows.landmarks, a, b).astype(np.float32)
        part = np.array(new, np.float32, copy=True)
        part[:, raised] = old[:, raised]
        out = lm.copy()
        if use.any():
            out[use] = edited_landmarks(self.fit, basis, lm[use], old[use], part[use],
                                        self.config.render.gain, None, w[use])
            if self.lips_closed:
                out[use] = close_lips(lm[use], out[use], self._postures(a, b, ends)[use],
                                      LIP_CLOSURE * w[use])
            out[use] = keep_contact(lm[use], out[use])
        return out

    def _plan_block(self, a: int, b: int, final: bool) -> Iterator[FramePlan]:
        self._watch_late(b + self.context)
        rows = self._rows
        valid, cut = rows.take(rows.valid, a, b), rows.take(rows.cut, a, b)
        ends = self._run_ends(a, b, rows.hi if final else min(rows.hi, b + self.context))
        w, rng, ramps = self._weights(a, b, ends)
        use = valid & (w > 0)
        new, dst = self._geometry(a, b, ends, use, w, self.basis)
        base = self._removal(a, b, ends, use, w, new, self.basis)
        gaze = self._gaze(a, b, use, w, dst)
        lm = rows.take(rows.landmarks, a, b).astype(np.float32)
        lids = lids_closing(rows.take(rows.blendshapes, a, b), self.guards).max(1) > 0
        for k in range(b - a):
            if not valid[k]:
                yield FramePlan(a + k, None, None, 0.0, PassReason.NO_FACE, bool(cut[k]))
                continue
            if not use[k]:
                why = (PassReason.OUTSIDE_RANGE if rng[k] == 0 else
                       PassReason.CUT if cut[k] else PassReason.POSE)
                yield FramePlan(a + k, lm[k], dst[k], 0.0, why, bool(cut[k]))
                continue
            safe, fix = fold_free(self.solver, lm[k], dst[k],
                                  base=None if base is None else base[k])
            limits = tuple(lim for lim, on in (
                (Limit.RAMP, ramps[k] < 1), (Limit.POSE, w[k] < ramps[k]),
                (Limit.LIDS, lids[k]), (Limit.FOLDS, fix.shrunk or fix.reached < 0.999))
                if on)
            yield FramePlan(a + k, lm[k], safe, float(w[k]), None, bool(cut[k]),
                            float(w[k]) * fix.reached, limits,
                            None if gaze is None else gaze[k])

    def _gaze(self, a: int, b: int, use: np.ndarray, w: np.ndarray, dst: np.ndarray
              ) -> np.ndarray | None:
        """(b - a, 2, 2) pixels each iris moves inside its eye, or None (no gaze edit;
        :class:`ned.editing.direct.DirectedPlanner` has one). May move ``dst``'s irises."""
        return None

    # -- calibration ----------------------------------------------------------------
    def initial_gains(self) -> dict[str, float]:
        """The groups' starting gains for this target (geometry.initial_gains)."""
        return initial_gains(self.raised)

    def sample_frames(self, n: int) -> np.ndarray:
        """(<= n,) frames of the fit window to calibrate on: face frames spread evenly,
        each with the manipulator's context inside the rows at hand (the lips' posture,
        which reads further, is taken on what is there)."""
        if self.fit is None:
            raise RuntimeError("sample_frames needs the fitted model")
        rows, first = self._rows, self._first_valid
        stop = min(rows.hi, first + self.plan_cfg.fit_wait)
        valid = np.flatnonzero(rows.take(rows.valid, first, stop)) + first
        lo, hi = first + self.near, rows.hi - self.near
        inner = valid[(valid >= lo) & (valid < hi)]
        pool = inner if len(inner) >= n else valid
        pick = np.linspace(0, len(pool) - 1, min(n, len(pool))).round().astype(int)
        return np.unique(pool[pick])

    def measured_blendshapes(self, frames: np.ndarray) -> np.ndarray:
        """(n, 52) float32 the analysis's blendshapes of some buffered frames."""
        return np.stack([self._rows.at(self._rows.blendshapes, int(i))
                         for i in frames]).astype(np.float32)

    def sample_geometry(self, frames: np.ndarray, gains: Mapping[str, float]
                        ) -> tuple[np.ndarray, np.ndarray]:
        """The measured and the planned fold-free landmarks of some buffered face frames
        at full strength and intensity 1 with ``gains``: ((n, 478, 3), (n, 478, 3))
        float32 pixels. (The manipulator's output is kept between calls.)"""
        rows = self._rows
        frames = np.asarray(frames, int)
        key = tuple(frames.tolist())
        if self._sampled[0] != key:
            lo, hi = int(frames.min()), int(frames.max()) + 1
            new = self._translate(lo, hi, self._run_ends(lo, hi, rows.hi), intensity=1.0)
            self._sampled = (key, new[frames - lo])
        basis = ExpressionBasis.for_fit(self.fit, gains, self.raised)
        one, full = np.ones(1, bool), np.ones(1, np.float32)
        src, dst = [], []
        for k, i in enumerate(frames):
            ends = self._run_ends(i, i + 1, rows.hi)
            new, d = self._geometry(i, i + 1, ends, one, full, basis,
                                    self._sampled[1][k:k + 1])
            base = self._removal(i, i + 1, ends, one, full, new, basis)
            lm = rows.at(rows.landmarks, i).astype(np.float32)
            src.append(lm)
            dst.append(fold_free(self.solver, lm, d[0],
                                 base=None if base is None else base[0])[0])
        return np.stack(src), np.stack(dst)
