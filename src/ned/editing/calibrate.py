"""Per-clip calibration of the edit's strength: a closed loop on the clip itself.

How far the landmarks must move for a face to read, say, browDown 0.7 depends on the
face: its size in pixels, its shape, how the analyser follows a warped picture (measured:
it re-detects 75-85 % of a commanded landmark motion). So once the face model is fitted,
a few frames of the clip are edited with the current gain of each channel group, rendered
with the warp and the edit's own appearance cues (the analyser reads them too: parted
teeth lower its mouthStretch), re-measured by the analyser (the same MediaPipe
landmarker, in image mode on a crop around the face), and each group's gain is corrected
towards its target level (``ned.facs.TARGETS``; a grin to remove towards its ceiling,
``ned.facs.CEILINGS``), for a few rounds; the round closest to every target wins. Groups
the analyser cannot verify (``ned.facs.GEOMETRIC_FLOORS``) are corrected on the
re-detected landmarks' motion instead, towards what their posed field draws
(:func:`geometric_goals`).

Image mode reads a frame slightly differently from the analysis's video mode (a few
hundredths), so every level is corrected by the difference of the two on the source
frame. The gains are cached beside the analysis (same key plus the edit's target), so a
second edit of the clip skips the loop.

Nothing here reads an emotion classifier: the loop sees the analyser's blendshapes only.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ned.atomic import write_text
from ned.editing.config import EditConfig
from ned.editing.geometry import MAX_GAIN, MAX_GAINS, START_GAINS
from ned.editing.plan import EditPlanner
from ned.editing.renderers import WarpRenderer
from ned.errors import NedError
from ned.facegeom import geometric_changes
from ned.facs import CEILINGS, GEOMETRIC_FLOORS, TARGETS, group_indices
from ned.topology import FACE_OVAL

#: Bump when the loop or its inputs change meaning: cached calibrations are then redone.
VERSION = 13


@dataclass(frozen=True)
class CalibrationConfig:
    """Options of the loop.

    Attributes:
        frames: frames edited and re-measured per round.
        rounds: corrections (rounds + 1 measurements).
        max_step: largest factor on a gain per round.
        overshoot: a level this far above its target lowers the gain.
        crop: side of the square re-measured around the face, in face heights.
        resolution: the crop's side in pixels at most (the landmarker works at 256).
    """

    frames: int = 6
    rounds: int = 3
    max_step: float = 1.3
    overshoot: float = 0.25
    crop: float = 1.8
    resolution: int = 384

    def __post_init__(self) -> None:
        if self.frames < 1 or self.rounds < 0 or self.max_step <= 1 or self.resolution < 64:
            raise NedError("calibration needs frames >= 1, rounds >= 0, max_step > 1, "
                           "resolution >= 64")


@dataclass(frozen=True)
class Calibration:
    """The outcome of a clip's calibration.

    Attributes:
        gains: group -> gain to edit the clip with.
        targets: group -> the level chased (targets) ...
        ceilings: ... and group -> the level to stay under.
        levels: group -> the re-measured mean level at the chosen round.
        rounds: per round, {"gains": ..., "levels": ...}.
        seconds: time the loop took (0 when read from the cache).
    """

    gains: dict[str, float]
    targets: dict[str, float] = field(default_factory=dict)
    ceilings: dict[str, float] = field(default_factory=dict)
    levels: dict[str, float] = field(default_factory=dict)
    rounds: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> Calibration:
        return cls(**{k: d[k] for k in ("gains", "targets", "ceilings", "levels", "rounds",
                                        "seconds")})


#: Margin (IOD) over a geometric floor the loop aims at, at least.
GEOMETRIC_MARGIN = 0.01


def label_goals(emotion: str) -> tuple[dict[str, float], dict[str, float]]:
    """(targets, ceilings) of an emotion: its TARGETS and CEILINGS, less the groups only
    geometry can verify."""
    targets = {g: v for g, v in TARGETS[emotion].items() if g not in GEOMETRIC_FLOORS}
    return targets, dict(CEILINGS.get(emotion, {}))


#: Share of a commanded landmark motion the analyser re-detects on a warped face
#: (measured: 75-85 %).
REDETECTED = 0.8


@functools.lru_cache(maxsize=32)
def posed_change(group: str, level: float) -> float:
    """IOD by which the posed field of ``group`` (:mod:`ned.facemodel.fields`) at
    ``level`` moves its geometric measure (``ned.facs.GEOMETRIC_FLOORS``) on the canonical
    face: what intensity 1 means for a group the analyser cannot read (the frown's corners
    0.12 at mouthFrown 0.6, the glare's lids 0.065 at eyeWide 0.5)."""
    from ned.blendshapes import INDEX
    from ned.facemodel.fields import field_offsets
    from ned.facemodel.mesh import load_canonical_mesh
    from ned.facs import GROUPS

    mesh = np.asarray(load_canonical_mesh().vertices, np.float64)[:, :2] * (1.0, -1.0)
    base = np.zeros((478, 2))  # image axes (y down); the iris points stay at the origin
    base[:len(mesh)] = mesh
    move = sum(field_offsets()[INDEX[c], :, :2] for c in GROUPS[group]) * (1.0, -1.0)
    changes = geometric_changes(base[None], (base + level * move)[None])
    return float(changes[GEOMETRIC_FLOORS[group][0]][0])


def geometric_goals(emotion: str) -> dict[str, float]:
    """group -> re-detected change (IOD) the loop aims at, for the groups of an emotion
    only geometry can verify (``ned.facs.GEOMETRIC_FLOORS``): the posed field's change at
    the target's level as the analyser re-detects it (:data:`REDETECTED` of
    :func:`posed_change`), at least the floor plus :data:`GEOMETRIC_MARGIN`."""
    return {g: max(GEOMETRIC_FLOORS[g][1] + GEOMETRIC_MARGIN,
                   REDETECTED * posed_change(g, level))
            for g, level in TARGETS[emotion].items() if g in GEOMETRIC_FLOORS}


def reference_goals(blendshapes: np.ndarray, valid: np.ndarray, floor: float = 0.15,
                    with_geometric: bool = False
                    ) -> tuple[dict[str, float], dict[str, float]]:
    """(targets, ceilings) of a reference clip: the mean level of every group it shows
    (at least ``floor``), no ceilings.

    Args:
        blendshapes: (T, 52) the reference's measured blendshapes.
        valid: (T,) bool its frames with a face.
        floor: groups below this level are not chased.
        with_geometric: include the groups only geometry can verify.
    """
    b = np.asarray(blendshapes, np.float64)[np.asarray(valid, bool)]
    if not len(b):
        raise NedError("the reference clip has no frame with a face")
    targets = {}
    for g in START_GAINS:
        level = float(b[:, group_indices(g)].mean())
        if level >= floor and (with_geometric or g not in GEOMETRIC_FLOORS):
            targets[g] = level
    return targets, {}


class Remeasure:
    """The analyser's blendshapes of face crops: the MediaPipe landmarker in image mode.

    Args:
        config: crop size and resolution.
    """

    def __init__(self, config: CalibrationConfig) -> None:
        from ned.analysis.landmarker import Landmarker

        self.config = config
        self.landmarker = Landmarker(max_faces=1, video=False)

    def crop(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """(S, S, 3) uint8 square crop around the face of (478, 3) ``landmarks``."""
        import cv2

        oval = landmarks[list(FACE_OVAL), :2]
        lo, hi = oval.min(0), oval.max(0)
        c, side = (lo + hi) / 2, float(max(hi - lo)) * self.config.crop
        s = min(self.config.resolution, max(64, int(round(side))))
        m = np.array([[s / side, 0, s / 2 - c[0] * s / side],
                      [0, s / side, s / 2 - c[1] * s / side]], np.float64)
        return cv2.warpAffine(image, m, (s, s), flags=cv2.INTER_AREA,
                              borderMode=cv2.BORDER_REPLICATE)

    def __call__(self, crops: list[np.ndarray]) -> np.ndarray:
        """(n, 52) float32 blendshapes of the crops (NaN rows: no face found); the
        landmarks found are kept in :attr:`landmarks` ((n, 478, 3), NaN where none)."""
        out = np.full((len(crops), 52), np.nan, np.float32)
        self.landmarks = np.full((len(crops), 478, 3), np.nan, np.float32)
        for i, im in enumerate(crops):
            faces = self.landmarker.detect(im, 0.0)
            if faces:
                out[i] = faces[0].blendshapes
                self.landmarks[i] = faces[0].landmarks
        return out

    def close(self) -> None:
        self.landmarker.close()


def _levels(bs: np.ndarray, groups: list[str]) -> dict[str, float]:
    ok = ~np.isnan(bs).any(1)
    if not ok.any():
        return {g: float("nan") for g in groups}
    return {g: float(bs[ok][:, group_indices(g)].mean()) for g in groups}


def calibration_renderer(config: EditConfig) -> WarpRenderer:
    """The renderer the loop draws its frames with: the edit's warp with the edit's own
    appearance cues (the analyser reads them: single_face -> fear re-measured
    mouthStretch 0.35 warped alone, 0.20 with the mouth's parted teeth), a large face at
    the renderer's working scale; no cue under the neural renderer, which draws its own;
    no occluder (the loop's frames are whole)."""
    cues = () if config.render.renderer is not None else config.cues
    return WarpRenderer(replace(config.render, renderer=None, cues=cues, occlusion=False))


def calibrate(planner: EditPlanner, images: Mapping[int, np.ndarray],
              targets: Mapping[str, float], ceilings: Mapping[str, float],
              config: EditConfig, cal: CalibrationConfig | None = None,
              geometric: Mapping[str, float] | None = None) -> Calibration:
    """Correct the gains of the groups in ``targets`` and ``ceilings`` on a clip.

    Args:
        planner: the clip's planner, its model fitted (:meth:`EditPlanner.sample_frames`
            chose the frames of ``images``).
        images: frame index -> (H, W, 3) uint8 decoded frame.
        targets: group -> level to reach, re-measured.
        ceilings: group -> level to stay under, re-measured.
        config: the edit's options (mask and blend of the warp).
        cal: loop options.
        geometric: group -> re-detected change (IOD) to aim at (:func:`geometric_goals`)
            for groups the analyser cannot see: their gain is set on the re-detected
            landmarks instead (:func:`_geometric_step`).

    Returns:
        :class:`Calibration`.
    """
    cal = cal or CalibrationConfig()
    t0 = time.perf_counter()
    frames = np.array(sorted(images), int)
    groups = sorted(set(targets) | set(ceilings))
    gains = planner.initial_gains()
    history: list[dict] = []
    renderer = calibration_renderer(config)
    measure = Remeasure(cal)
    try:
        src, _ = planner.sample_geometry(frames, gains)
        if renderer.appearance.interior:  # the sampled frames' own mouth interiors
            for k, i in enumerate(frames):
                renderer.mouth.observe(images[i], src[k])
        crops = [measure.crop(images[i], src[k]) for k, i in enumerate(frames)]
        rows = planner.measured_blendshapes(frames)
        bias = {g: _levels(rows, [g])[g] - v for g, v in _levels(measure(crops), groups).items()}
        src_points = measure.landmarks.copy()
        frozen: set[str] = set()
        for r in range(cal.rounds + 1):
            src, dst = planner.sample_geometry(frames, gains)
            crops = [measure.crop(renderer.draw(images[i], src[k], dst[k]).image, src[k])
                     for k, i in enumerate(frames)]
            raw = _levels(measure(crops), groups)
            geo = _geometric(src_points, measure.landmarks, geometric or {})
            lv = {g: raw[g] + (bias[g] if np.isfinite(bias[g]) else 0.0) for g in groups}
            history.append({"gains": dict(gains), "levels": lv, "geometric": geo})
            if r == cal.rounds or any(not np.isfinite(v) for v in lv.values()):
                break
            gains = _step(gains, lv, history, targets, ceilings, frozen, cal)
            gains.update(_geometric_step(gains, geo, geometric or {}, cal))
    finally:
        measure.close()
    best = max((h for h in history if all(np.isfinite(v) for v in h["levels"].values())),
               key=lambda h: _score(h["levels"], targets, ceilings), default=history[0])
    chosen = {g: float(v) for g, v in best["gains"].items()}
    chosen.update({g: float(history[-1]["gains"][g]) for g in (geometric or {})})
    return Calibration(chosen, dict(targets), dict(ceilings), best["levels"], history,
                       time.perf_counter() - t0)


def _geometric(source: np.ndarray, edited: np.ndarray, groups: Mapping[str, float]
               ) -> dict[str, float]:
    """Each of ``groups`` -> mean re-detected geometric change (IOD) over the crops with a face in
    both (source (n, 478, 3) and edited (n, 478, 3) landmarks in crop pixels)."""
    ok = ~(np.isnan(source).any((1, 2)) | np.isnan(edited).any((1, 2)))
    if not ok.any():
        return {g: float("nan") for g in groups}
    changes = geometric_changes(source[ok], edited[ok])
    return {g: float(changes[GEOMETRIC_FLOORS[g][0]].mean()) for g in groups}


def _geometric_step(gains: Mapping[str, float], geo: Mapping[str, float],
                    goals: Mapping[str, float], cal: CalibrationConfig) -> dict[str, float]:
    """Gains of groups only geometry can verify: raised towards their goal, a re-detected
    change in IOD (:func:`geometric_goals`), never below their start (the posed geometry
    of :mod:`ned.facemodel.fields` is what intensity 1 means) nor over their cap."""
    out = {}
    for g, want in goals.items():
        got = geo[g]
        if not np.isfinite(got):
            out[g] = gains[g]
            continue
        ratio = min(cal.max_step, want / max(got, 1e-3)) if got < want else 1.0
        out[g] = float(np.clip(gains[g] * ratio, START_GAINS[g], MAX_GAINS.get(g, MAX_GAIN)))
    return out


def _step(gains: dict[str, float], lv: dict[str, float], history: list[dict],
          targets: Mapping[str, float], ceilings: Mapping[str, float], frozen: set[str],
          cal: CalibrationConfig) -> dict[str, float]:
    """The next round's gains (see the module docstring)."""
    new = dict(gains)
    if len(history) > 1:  # a raise that made things worse (folds, a face the analyser no
        prev = history[-2]  # longer reads): back to the previous gain, and it stays there
        for g in list(targets) + list(ceilings):
            worse = (lv[g] < prev["levels"][g] - 0.02 if g in targets
                     else lv[g] > prev["levels"][g] + 0.02)
            if gains[g] > prev["gains"][g] and worse:
                new[g] = prev["gains"][g]
                frozen.add(g)
    for g, want in targets.items():
        if g in frozen:
            continue
        cap = MAX_GAINS.get(g, MAX_GAIN)
        if lv[g] < want:
            new[g] = min(cap, gains[g] * min(cal.max_step, (want / max(lv[g], 0.05)) ** 0.8))
        elif lv[g] > want + cal.overshoot:   # never below the posed geometry
            new[g] = max(START_GAINS[g], gains[g] * 0.85)
    for g, ceiling in ceilings.items():
        if g in frozen:
            continue
        if lv[g] > ceiling - 0.05:
            step = min(cal.max_step, 1.0 + 2.0 * (lv[g] - ceiling + 0.05))
            new[g] = min(MAX_GAINS.get(g, MAX_GAIN), gains[g] * step)
        elif lv[g] < ceiling - 0.15:   # removed more than needed (folds): ease off
            new[g] = gains[g] * 0.85
    return new


def _score(lv: Mapping[str, float], targets: Mapping[str, float],
           ceilings: Mapping[str, float]) -> float:
    """How close a round came: the share of each target reached, less five times every
    excess over a ceiling."""
    s = sum(min(lv[g] / max(t, 1e-6), 1.0) for g, t in targets.items())
    return s - 5.0 * sum(max(lv[g] - c, 0.0) for g, c in ceilings.items())


def cache_key(parts: Mapping[str, object]) -> str:
    """A short stable hash of the calibration's inputs (with :data:`VERSION`)."""
    text = json.dumps({"version": VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def load_cached(path: Path) -> Calibration | None:
    """A cached calibration, or None (missing or unreadable: it is then redone)."""
    try:
        return Calibration.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(path: Path, calibration: Calibration) -> None:
    """Cache a calibration (atomically; a folder that cannot be written is skipped)."""
    try:
        write_text(path, json.dumps(calibration.to_json()) + "\n")
    except OSError:
        pass


def cache_file(folder: str | os.PathLike, key: str) -> Path:
    """The cache file of a calibration key."""
    return Path(folder) / f"calibration-{key}.json"
