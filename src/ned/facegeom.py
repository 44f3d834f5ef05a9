"""Geometric measures of a face's expression on its landmarks, in inter-ocular distances
(IOD) in the face's own frame (rotated by the eye line, so tilted heads measure the same):
what the analyser's blendshapes cannot see (mouthFrown, mouthPress, eyeWide, the frown's
inner brows:
``ned.facs.GEOMETRIC_FLOORS``). Used by the edit's calibration on its planned geometry and
by ``ned.metrics.expression`` on re-measured clips."""

from __future__ import annotations

import numpy as np

from ned import topology
from ned.errors import NedError

#: The geometric measures, each a change edited - source in IOD, positive in the named
#: direction (see :func:`geometric_changes`).
GEOMETRIC_MEASURES: tuple[str, ...] = ("corners_down", "corners_up", "lips_thinned",
                                       "upper_lid_up", "brow_down", "inner_brow_up",
                                       "inner_brow_down")

#: Lip columns of the vermilion measure: index i of ``LIPS_OUTER`` / ``LIPS_INNER`` (lower
#: lip) faces index 20 - i (upper lip); 5 is the lip centre (17 / 0 outer, 14 / 13 inner),
#: 3-4 and 6-7 the two points either side.
LIP_COLUMNS = (3, 4, 5, 6, 7)
#: The inner two points of each eyebrow contour (upper and lower), nearest the nose.
RIGHT_INNER_BROW = (55, 65, 107, 66)
LEFT_INNER_BROW = (285, 295, 336, 296)


def _check_landmarks(points: np.ndarray, name: str = "landmarks") -> np.ndarray:
    p = np.asarray(points, np.float64)
    if p.ndim != 3 or p.shape[1] != topology.N_LANDMARKS or p.shape[2] not in (2, 3):
        raise NedError(f"{name} must be (T, {topology.N_LANDMARKS}, 2 or 3) pixels, got "
                       f"{p.shape}")
    return p


def face_coordinates(points: np.ndarray) -> np.ndarray:
    """Landmarks in the face frame, in IOD: origin at the midpoint of the eye centres, u
    along the eye line towards the subject's left eye (image right when upright), v
    perpendicular to it, down the face (so v grows downwards like image y).

    Args:
        points: (T, 478, 2 or 3) landmarks in pixels (only x, y are used).

    Returns:
        (T, 478, 2) float64 (u, v) coordinates over each frame's inter-ocular distance.

    Raises:
        NedError: a wrong shape or a frame with coincident eyes.
    """
    p = _check_landmarks(points)[..., :2]
    r, l = topology.eye_centres(p)
    axis = l - r
    iod = np.linalg.norm(axis, axis=-1)  # (T,)
    if (iod < 1e-6).any():
        raise NedError("a frame has coincident eye centres: no face frame")
    ex = axis / iod[:, None]
    ey = np.stack([-ex[:, 1], ex[:, 0]], -1)  # ex rotated 90 deg: (1, 0) -> (0, 1)
    d = p - (0.5 * (l + r))[:, None, :]
    return np.stack([(d * ex[:, None]).sum(-1), (d * ey[:, None]).sum(-1)], -1) / iod[:, None,
                                                                                       None]


def face_shape(points: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame shape figures behind the geometric measures, in IOD (face frame).

    Args:
        points: (T, 478, 2 or 3) landmarks in pixels.

    Returns:
        (T,) float64 series:

        - ``corner_depth``: mean height of the nose tip (1) above the mouth corners
          (61, 291): larger = corners lower.
        - ``vermilion``: upper + lower vermilion height, the outer-lip opening minus the
          inner-lip opening, mean over :data:`LIP_COLUMNS` (lip centre and two points
          either side).
        - ``lid_height``: height of the upper-lid centre (159, 386) above its eye's corners,
          mean of both eyes.
        - ``brow_height``: mean height of the brow points above their eye's corners, mean
          of both sides.
        - ``inner_brow_height``: the same for the inner brow points
          (:data:`RIGHT_INNER_BROW`, :data:`LEFT_INNER_BROW`).
    """
    v = face_coordinates(points)[..., 1]  # (T, 478), down the face
    out, inn = topology.LIPS_OUTER, topology.LIPS_INNER
    lower_o = v[:, [out[i] for i in LIP_COLUMNS]]
    upper_o = v[:, [out[20 - i] for i in LIP_COLUMNS]]
    lower_i = v[:, [inn[i] for i in LIP_COLUMNS]]
    upper_i = v[:, [inn[20 - i] for i in LIP_COLUMNS]]
    vermilion = ((lower_o - upper_o) - (lower_i - upper_i)).mean(1)
    corners = 0.5 * (v[:, topology.MOUTH_CORNER_RIGHT] + v[:, topology.MOUTH_CORNER_LEFT])
    eye_r = 0.5 * (v[:, topology.RIGHT_EYE_OUTER] + v[:, topology.RIGHT_EYE_INNER])
    eye_l = 0.5 * (v[:, topology.LEFT_EYE_OUTER] + v[:, topology.LEFT_EYE_INNER])
    lid = 0.5 * ((eye_r - v[:, topology.RIGHT_EYE_TOP]) + (eye_l - v[:, topology.LEFT_EYE_TOP]))

    def above_eyes(right: tuple[int, ...], left: tuple[int, ...]) -> np.ndarray:
        return 0.5 * ((eye_r - v[:, list(right)].mean(1)) + (eye_l - v[:, list(left)].mean(1)))

    return {"corner_depth": corners - v[:, topology.NOSE_TIP], "vermilion": vermilion,
            "lid_height": lid,
            "brow_height": above_eyes(topology.RIGHT_EYEBROW, topology.LEFT_EYEBROW),
            "inner_brow_height": above_eyes(RIGHT_INNER_BROW, LEFT_INNER_BROW)}


def geometric_changes(source: np.ndarray, edited: np.ndarray) -> dict[str, np.ndarray]:
    """The geometric measures: per frame, the change of the face's shape from the source
    to the edit, in IOD (each clip in its own face frame), positive in the named direction.

    Args:
        source, edited: (T, 478, 2 or 3) landmarks in pixels of the same T frames.

    Returns:
        measure -> (T,) float64, :data:`GEOMETRIC_MEASURES` order:

        - ``corners_down``: mouth corners lowered against the nose tip (mouthFrown, AU 15).
        - ``corners_up``: raised (a smile, AU 12): ``-corners_down``.
        - ``lips_thinned``: upper + lower vermilion thinner (mouthPress, AU 23/24).
        - ``upper_lid_up``: upper-lid centre raised against the eye corners (eyeWide, AU 5).
        - ``brow_down``: brow points lowered against the eye corners (browDown, AU 4).
        - ``inner_brow_up``: inner brow points raised against the eye corners (AU 1).
        - ``inner_brow_down``: lowered (the frown of AU 4, its inner ends):
          ``-inner_brow_up``.

    Raises:
        NedError: wrong shapes, or the two clips differ in length.
    """
    s, e = _check_landmarks(source, "source"), _check_landmarks(edited, "edited")
    if s.shape[0] != e.shape[0]:
        raise NedError(f"source and edited landmarks differ in length: {s.shape[0]} vs "
                       f"{e.shape[0]} frames")
    a, b = face_shape(s), face_shape(e)
    down = b["corner_depth"] - a["corner_depth"]
    return {"corners_down": down, "corners_up": -down,
            "lips_thinned": a["vermilion"] - b["vermilion"],
            "upper_lid_up": b["lid_height"] - a["lid_height"],
            "brow_down": a["brow_height"] - b["brow_height"],
            "inner_brow_up": b["inner_brow_height"] - a["inner_brow_height"],
            "inner_brow_down": a["inner_brow_height"] - b["inner_brow_height"]}
