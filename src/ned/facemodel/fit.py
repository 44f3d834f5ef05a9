"""Per-clip fit of a FaceTrack: pose per frame, the actor's identity and own offsets.

``fit = fit_track(track)`` gives a :class:`TrackFit`; ``fit.landmarks_for(new (T, 52))``
returns (T, 478, 3) image-pixel landmarks under new expressions: the measured landmarks
plus the model's displacement between the new and the measured expressions, projected with
each frame's pose. Re-using the measured expressions returns the measured landmarks
exactly; ``fit.model_landmarks()`` is the model alone (identity + rig + pose).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ned import topology as tp
from ned.blendshapes import N_BLENDSHAPES
from ned.errors import NedError
from ned.facemodel.model import RigFaceModel
from ned.facemodel.pose import Pose, fit_similarity
from ned.facemodel.rig import Rig, fit_offsets, load_rig
from ned.records import FaceTrack
from ned.topology import N_LANDMARKS

RIGID = np.array(tp.RIGID_POINTS)
#: Weight of the rigid upper-face points relative to the others in per-frame pose fits.
RIGID_WEIGHT = 3.0
#: Ridge strength of the per-clip refit towards the shipped rig (summed squared coefficients).
CLIP_LAMBDA = 0.5


def align_shapes(landmarks: np.ndarray, targets: np.ndarray,
                 rigid_weight: float | None = None) -> tuple[Pose, np.ndarray]:
    """Per-frame pose and the pose-normalised shapes.

    Args:
        landmarks: (T, 478, 3) image pixels.
        targets: (478, 3) or (T, 478, 3) model shapes (cm) to align with.
        rigid_weight: None aligns only the rigid upper-face points (use with a neutral
            template: jaw and cheek points would leak speech into the pose); a number
            aligns all points with the rigid ones weighted that much more (use with
            per-frame model shapes that already contain the expression).

    Returns:
        (pose, shapes): ``landmarks ~ pose.apply(shapes)``, shapes (T, 478, 3) cm.
    """
    t = np.broadcast_to(targets, landmarks.shape)
    if rigid_weight is None:
        pose = fit_similarity(t[:, RIGID], landmarks[:, RIGID])
    else:
        w = np.ones(landmarks.shape[1])
        w[RIGID] = rigid_weight
        pose = fit_similarity(t, landmarks, w)
    return pose, pose.invert(landmarks)


def normalise_clip(landmarks: np.ndarray, coeffs: np.ndarray, rig: Rig,
                   offsets: np.ndarray | None = None, identity: np.ndarray | None = None
                   ) -> tuple[Pose, np.ndarray]:
    """Align every frame to the model's own shape for that frame (identity + rig), all
    points weighted, rigid points :data:`RIGID_WEIGHT` times more."""
    ident = rig.mean_shape if identity is None else identity
    offs = rig.offsets if offsets is None else offsets
    model = ident[None] + np.einsum("te,evc->tvc", coeffs, offs)
    return align_shapes(landmarks, model, RIGID_WEIGHT)


@dataclass
class TrackFit:
    """A FaceTrack explained by the rig.

    Attributes:
        model: the face model (rig backend with the actor's own offsets).
        identity: (478, 3) float32 cm, the actor's neutral shape.
        pose: per-frame pose (T frames; invalid frames hold the nearest valid pose).
        expressions: (T, 52) float32 measured blendshapes.
        landmarks: (T, 478, 3) float32 measured landmarks, pixels.
        valid: (T,) bool.
        size: (width, height) of the frames.
    """

    model: RigFaceModel
    identity: np.ndarray
    pose: Pose
    expressions: np.ndarray
    landmarks: np.ndarray
    valid: np.ndarray
    size: tuple[int, int]

    @property
    def n_frames(self) -> int:
        return len(self.expressions)

    def model_landmarks(self, expressions: np.ndarray | None = None) -> np.ndarray:
        """(T, 478, 3) float32 pixels: identity + rig(expressions) under each frame's pose."""
        e = self.expressions if expressions is None else self._check(expressions)
        return self.model.vertices(self.identity, e, self.pose)

    def displacement(self, expressions: np.ndarray) -> np.ndarray:
        """(T, 478, 3) float32 pixels: model motion from the measured to new expressions
        (zero on invalid frames)."""
        e = self._check(expressions)
        delta = np.einsum("te,evc->tvc", e - self.expressions, self.model.offsets)
        out = self.pose.apply_vectors(delta)
        out[~self.valid] = 0.0
        return out

    def landmarks_for(self, expressions: np.ndarray, limit_lids: bool = True) -> np.ndarray:
        """(T, 478, 3) float32 pixels: measured landmarks moved to new expressions (T, 52).

        With ``limit_lids`` an eyelid pushed past the other one (a linear rig driven beyond
        a closed eye) stops where the lids meet; open lids are never changed.
        """
        out = self.landmarks + self.displacement(expressions)
        return close_lids(out, self.landmarks) if limit_lids else out

    def reprojection_error(self) -> np.ndarray:
        """(T,) mean 2D distance of model landmarks to measured ones over the inter-ocular
        distance (NaN on invalid frames)."""
        m = self.model_landmarks()
        err = np.linalg.norm(m[..., :2] - self.landmarks[..., :2], axis=-1).mean(-1)
        err = err / np.maximum(tp.inter_ocular(self.landmarks), 1e-6)
        return np.where(self.valid, err, np.nan)

    def _check(self, expressions: np.ndarray) -> np.ndarray:
        e = np.asarray(expressions, np.float32)
        if e.shape != self.expressions.shape:
            raise NedError(f"expressions must be {self.expressions.shape}, got {e.shape}")
        return e


#: (upper, lower) eyelid point pairs of the subject's right and left eye.
LID_PAIRS = ((246, 7), (161, 163), (160, 144), (159, 145), (158, 153), (157, 154), (173, 155),
             (466, 249), (388, 390), (387, 373), (386, 374), (385, 380), (384, 381), (398, 382))


def lid_gaps(points: np.ndarray) -> np.ndarray:
    """(T, 14) opening of each (upper, lower) lid pair of :data:`LID_PAIRS` in pixels,
    measured along the eye's downward axis (perpendicular to the line through the eye
    corners); negative = crossed."""
    pairs = np.array(LID_PAIRS)
    gaps = []
    for eye, side in enumerate((slice(0, 7), slice(7, 14))):
        u, low = pairs[side, 0], pairs[side, 1]
        gaps.append(((points[:, low, :2] - points[:, u, :2]) *
                     _down_axis(points, eye)[:, None]).sum(-1))
    return np.concatenate(gaps, 1)


#: Eye corners (outer, inner) of the subject's right and left eye: they define each eye's axis.
EYE_CORNERS = ((tp.RIGHT_EYE_OUTER, tp.RIGHT_EYE_INNER), (tp.LEFT_EYE_OUTER, tp.LEFT_EYE_INNER))


def _down_axis(points: np.ndarray, eye: int) -> np.ndarray:
    a, b = points[:, EYE_CORNERS[eye][0], :2], points[:, EYE_CORNERS[eye][1], :2]
    along = (b - a) / np.maximum(np.linalg.norm(b - a, axis=-1, keepdims=True), 1e-6)
    down = np.stack([-along[:, 1], along[:, 0]], -1)
    return down * np.sign(down[:, 1:2] + 1e-12)               # image y points down


def close_lids(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Stop eyelids at the point where they meet.

    Where a lid pair's opening (:func:`lid_gaps`) is below ``min(0, reference opening)``,
    both points move along the eye's down axis to restore that limit; other points are
    untouched. Args: (T, 478, 3) edited and reference (measured) landmarks, pixels.
    Returns a new (T, 478, 3) float32 array.
    """
    out = np.array(points, np.float32, copy=True)
    pairs = np.array(LID_PAIRS)
    limit = np.minimum(lid_gaps(reference), 0.0)
    gap = lid_gaps(out)
    for eye, side in enumerate((slice(0, 7), slice(7, 14))):
        u, low = pairs[side, 0], pairs[side, 1]
        down = _down_axis(out, eye)
        short = np.minimum(gap[:, side] - limit[:, side], 0.0)     # (T, 7) <= 0
        fix = (0.5 * short)[..., None] * down[:, None]
        out[:, u, :2] += fix
        out[:, low, :2] -= fix
    return out


def nearest_valid(valid: np.ndarray) -> np.ndarray:
    """(T,) index of the nearest valid frame for every frame (ties: the earlier one).

    Needs at least one valid frame; O(T log T) memory-light.
    """
    idx = np.flatnonzero(valid)
    t = np.arange(len(valid))
    right = np.clip(np.searchsorted(idx, t), 0, len(idx) - 1)
    left = np.clip(right - 1, 0, len(idx) - 1)
    pick_left = np.abs(t - idx[left]) <= np.abs(idx[right] - t)
    return np.where(pick_left, idx[left], idx[right])


def _fill_invalid(pose: Pose, valid: np.ndarray) -> Pose:
    near = nearest_valid(valid)
    return Pose(pose.rotation[near], pose.scale[near], pose.translation[near])


def fit_track(track: FaceTrack, rig: Rig | None = None, adapt: bool = True,
              lam: float = CLIP_LAMBDA) -> TrackFit:
    """Fit pose, identity and (if ``adapt``) the actor's own offsets to a FaceTrack.

    Args:
        track: the analysed clip (needs at least one valid frame).
        rig: prior rig (default: the shipped one).
        adapt: re-estimate the offsets from this clip, shrunk towards ``rig`` with ``lam``;
            channels the clip does not exercise keep the rig's offsets.
        lam: ridge strength of the adaptation.

    Returns:
        :class:`TrackFit`.
    """
    if not isinstance(track, FaceTrack):
        raise NedError("fit_track needs a FaceTrack")
    return fit_frames(track.landmarks, track.blendshapes, (track.width, track.height),
                      track.valid, rig=rig, adapt=adapt, lam=lam)


def fit_frames(landmarks: np.ndarray, blendshapes: np.ndarray, size: tuple[int, int],
               valid: np.ndarray | None = None, *, rig: Rig | None = None, adapt: bool = True,
               lam: float = CLIP_LAMBDA) -> TrackFit:
    """Fit pose, identity and the actor's own offsets to measured frames (see
    :func:`fit_track`, which takes a whole FaceTrack).

    Args:
        landmarks: (T, 478, 3) measured landmarks, pixels.
        blendshapes: (T, 52) measured blendshapes.
        size: (width, height) of the frames.
        valid: (T,) bool frames with the face (None = all); at least one.
        rig, adapt, lam: as in :func:`fit_track`.

    Returns:
        :class:`TrackFit` over the T frames.
    """
    landmarks = np.array(landmarks, np.float32)      # copies: the fit keeps them
    blendshapes = np.array(blendshapes, np.float32)
    t = len(landmarks)
    if landmarks.shape != (t, N_LANDMARKS, 3) or blendshapes.shape != (t, N_BLENDSHAPES):
        raise NedError(f"fit_frames needs (T, {N_LANDMARKS}, 3) landmarks and "
                       f"(T, {N_BLENDSHAPES}) blendshapes, got {landmarks.shape} and "
                       f"{blendshapes.shape}")
    valid = np.ones(t, bool) if valid is None else np.asarray(valid, bool)
    if valid.shape != (t,):
        raise NedError(f"valid must be ({t},), got {valid.shape}")
    if not valid.any():
        raise NedError("the track has no frame with a face")
    rig = rig or load_rig()
    lm = landmarks[valid].astype(np.float64)
    b = np.clip(blendshapes[valid].astype(np.float64), 0.0, 1.0)
    offsets = rig.offsets
    _, shapes = align_shapes(lm, rig.mean_shape)
    identity = shapes.mean(0) - np.einsum("e,evc->vc", b.mean(0), offsets)
    for _ in range(2):
        _, shapes = normalise_clip(lm, b, rig, offsets, identity)
        if adapt:
            offsets, ids = fit_offsets([shapes], [b], rig.weights, rig.offsets, lam)
            identity = ids[0]
        else:
            identity = (shapes.mean(0) - np.einsum("e,evc->vc", b.mean(0), offsets))
    pose_v, _ = normalise_clip(lm, b, rig, offsets, identity)
    full = Pose(np.tile(np.eye(3, dtype=np.float32), (t, 1, 1)), np.ones(t, np.float32),
                np.zeros((t, 3), np.float32))
    full.rotation[valid], full.scale[valid] = pose_v.rotation, pose_v.scale
    full.translation[valid] = pose_v.translation
    return TrackFit(model=RigFaceModel(rig, offsets), identity=identity.astype(np.float32),
                    pose=_fill_invalid(full, valid), expressions=blendshapes,
                    landmarks=landmarks, valid=valid, size=(int(size[0]), int(size[1])))
