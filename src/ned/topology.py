"""Fixed index sets of the 478-point MediaPipe face mesh (468 mesh points + 10 iris points).

These are facts about the mesh topology, not about any model file, so every stage
(analysis, face model, renderers, metrics) can use them without importing mediapipe.
"""

from __future__ import annotations

import numpy as np

N_LANDMARKS = 478
N_MESH = 468

#: Closed loop around the face, in order (36 points).
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378,
             400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21,
             54, 103, 67, 109)
#: Outer lip loop, in order.
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37,
              39, 40, 185)
#: Inner lip loop, in order.
LIPS_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82,
              81, 80, 191)
#: Eye contours, in order (subject's left eye is on the image right).
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYEBROW = (276, 283, 282, 295, 285, 300, 293, 334, 296, 336)
RIGHT_EYEBROW = (46, 53, 52, 65, 55, 70, 63, 105, 66, 107)
#: Iris: centre then 4 boundary points.
LEFT_IRIS = (473, 474, 475, 476, 477)
RIGHT_IRIS = (468, 469, 470, 471, 472)

#: Named single points.
UPPER_INNER_LIP = 13
LOWER_INNER_LIP = 14
MOUTH_CORNER_RIGHT = 61   # subject's right, image left
MOUTH_CORNER_LEFT = 291
CHIN = 152
NOSE_TIP = 1
RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 33, 133
LEFT_EYE_OUTER, LEFT_EYE_INNER = 263, 362
RIGHT_EYE_TOP, RIGHT_EYE_BOTTOM = 159, 145
LEFT_EYE_TOP, LEFT_EYE_BOTTOM = 386, 374

#: Rigid upper-face points (forehead, nose ridge, eye corners, temples) used for pose
#: normalisation; jaw and cheek points leak speech into pose (see docs/face_model.md).
RIGID_POINTS = (10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 33, 133, 263, 362, 127, 356, 162, 389,
                21, 251, 54, 284, 103, 332, 67, 297, 109, 338, 226, 446, 35, 265)

#: Five points of the alignment template: eye centres (as corner midpoints), nose tip,
#: mouth corners.
ALIGN_POINTS = (RIGHT_EYE_OUTER, RIGHT_EYE_INNER, LEFT_EYE_INNER, LEFT_EYE_OUTER, NOSE_TIP,
                MOUTH_CORNER_RIGHT, MOUTH_CORNER_LEFT)


def eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the subject's right and left eye.

    Args:
        points: (..., 478, D) landmarks.

    Returns:
        Two arrays (..., D): right-eye centre, left-eye centre (means of the eye corners).
    """
    r = 0.5 * (points[..., RIGHT_EYE_OUTER, :] + points[..., RIGHT_EYE_INNER, :])
    l = 0.5 * (points[..., LEFT_EYE_OUTER, :] + points[..., LEFT_EYE_INNER, :])
    return r, l


def inter_ocular(points: np.ndarray) -> np.ndarray:
    """Inter-ocular distance (between eye centres) in the points' units.

    Args:
        points: (..., 478, D) landmarks (D = 2 or 3; only x, y are used).

    Returns:
        (...,) distances.
    """
    r, l = eye_centres(points[..., :2])
    return np.linalg.norm(l - r, axis=-1)


def inner_lip_gap(points: np.ndarray) -> np.ndarray:
    """Inner-lip opening normalised by the inter-ocular distance.

    Args:
        points: (..., 478, D) landmarks.

    Returns:
        (...,) opening (distance of points 13 and 14 over IOD).
    """
    gap = np.linalg.norm(points[..., UPPER_INNER_LIP, :2] - points[..., LOWER_INNER_LIP, :2],
                         axis=-1)
    return gap / np.maximum(inter_ocular(points), 1e-6)
