"""Face regions of the expression channels: where each blendshape may move the mesh.

Each channel's offsets are confined to its own region: a Gaussian of the geodesic distance
(along the canonical mesh's edges, so the lips and eyelids are separated by the mouth and
eye openings) from a few key vertices, split left/right for one-sided channels. Channels
that do not carry speech (brows, eyes, cheeks, nose) have zero weight on every lip vertex,
so they cannot move the inner-lip opening (points 13 / 14) by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from ned import topology as tp
from ned.blendshapes import BLENDSHAPE_NAMES
from ned.facemodel.mesh import aperture_triangles

_R_BROW = (46, 53, 52, 65, 55, 70, 63, 105, 66, 107)
_L_BROW = (276, 283, 282, 295, 285, 300, 293, 334, 296, 336)
_R_CHEEK = (117, 118, 101, 50, 123, 111)
_L_CHEEK = (346, 347, 330, 280, 352, 340)
_R_NOSE = (48, 64, 98, 102, 49, 129)
_L_NOSE = (278, 294, 327, 331, 279, 358)
_UPPER_LIP = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 191, 80, 81, 82, 13, 312, 311,
              310, 415)
_LOWER_LIP = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 95, 88, 178, 87, 14, 317,
              402, 318, 324)
_JAW = (152, 148, 176, 149, 150, 136, 172, 377, 400, 378, 379, 365, 397, 17, 14, 84, 314, 18,
        200, 199, 175)
_R_CORNER = (61, 146, 185, 78, 191, 95)
_L_CORNER = (291, 375, 409, 308, 415, 324)
_R_PUFF = (205, 50, 187, 207, 206, 216)
_L_PUFF = (425, 280, 411, 427, 426, 436)

#: Speech-neutral channel families: zero weight on every lip vertex.
NON_SPEECH_PREFIXES = ("brow", "eye", "cheekSquint", "noseSneer")


@dataclass(frozen=True)
class RegionSpec:
    """Key vertices, Gaussian width (cm, geodesic) and side (+1 left, -1 right, 0 both)."""

    keys: tuple[int, ...]
    sigma: float
    side: int = 0
    iris: tuple[int, ...] = ()


def _sided(name: str, right: tuple, left: tuple, sigma: float, iris: bool = False) -> RegionSpec:
    if name.endswith("Left"):
        return RegionSpec(left, sigma, +1, tp.LEFT_IRIS if iris else ())
    return RegionSpec(right, sigma, -1, tp.RIGHT_IRIS if iris else ())


def region_spec(name: str) -> RegionSpec:
    """The region of one blendshape channel (``_neutral`` has an empty region)."""
    if name == "_neutral":
        return RegionSpec((), 1.0)
    if name == "browInnerUp":
        return RegionSpec((55, 107, 66, 285, 336, 296, 9, 151), 2.0)
    if name.startswith("browDown"):
        return _sided(name, (55, 107, 65, 52, 66, 105), (285, 336, 295, 282, 296, 334), 2.0)
    if name.startswith("browOuterUp"):
        return _sided(name, (46, 53, 52, 63, 70, 105), (276, 283, 282, 293, 300, 334), 2.0)
    if name.startswith("eyeLook"):
        return _sided(name, (), (), 1.0, iris=True)
    if name.startswith(("eyeBlink", "eyeSquint", "eyeWide")):
        return _sided(name, tp.RIGHT_EYE, tp.LEFT_EYE, 0.9 if "Blink" in name else 1.2)
    if name.startswith("cheekSquint"):
        return _sided(name, _R_CHEEK, _L_CHEEK, 1.5)
    if name.startswith("noseSneer"):
        return _sided(name, _R_NOSE, _L_NOSE, 1.2)
    if name == "cheekPuff":
        return RegionSpec(_R_PUFF + _L_PUFF, 2.0)
    if name.startswith("jaw"):
        return RegionSpec(_JAW, 3.0)
    if name in ("mouthRollUpper", "mouthShrugUpper"):
        return RegionSpec(_UPPER_LIP, 1.2)
    if name in ("mouthRollLower", "mouthShrugLower"):
        return RegionSpec(_LOWER_LIP + (18, 200), 1.5)
    if name in ("mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight"):
        return RegionSpec(_UPPER_LIP + _LOWER_LIP, 1.5)
    if name.startswith("mouthUpperUp"):
        return _sided(name, (40, 39, 37, 80, 81, 82, 185), (270, 269, 267, 310, 311, 312, 409),
                      1.5)
    if name.startswith("mouthLowerDown"):
        return _sided(name, (91, 181, 84, 88, 178, 87), (321, 405, 314, 318, 402, 317), 1.5)
    if name.startswith(("mouthSmile", "mouthDimple", "mouthFrown", "mouthStretch",
                        "mouthPress")):
        return _sided(name, _R_CORNER, _L_CORNER, 1.8)
    raise KeyError(f"no region for channel {name!r}")


def is_non_speech(name: str) -> bool:
    """True for channels that must not move the lips (brows, eyes, cheek squint, nose)."""
    return name.startswith(NON_SPEECH_PREFIXES)


def geodesic_distances(vertices: np.ndarray, triangles: np.ndarray,
                       sources: tuple[int, ...]) -> np.ndarray:
    """(V,) shortest distance along mesh edges from the nearest of ``sources``."""
    e = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    length = np.linalg.norm(vertices[e[:, 0]] - vertices[e[:, 1]], axis=1)
    n = len(vertices)
    graph = coo_matrix((length, (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    return dijkstra(graph, directed=False, indices=list(sources), min_only=True)


def region_weights(vertices: np.ndarray, triangles: np.ndarray,
                   names: tuple[str, ...] = BLENDSHAPE_NAMES, cutoff: float = 0.05) -> np.ndarray:
    """Per-channel vertex weights in [0, 1].

    Args:
        vertices: (468, 3) canonical mesh, cm.
        triangles: (F, 3) triangles (the mouth / eye opening triangles are ignored, so
            geodesics go around the openings).
        names: channel names.
        cutoff: weights below this are set to 0.

    Returns:
        (E, 478) float32; columns 468..477 are the iris points (weight 1 for the eye-look
        channels of that side, 0 otherwise).
    """
    ap = aperture_triangles(triangles)
    surface = triangles[~(ap["mouth"] | ap["eyes"])]
    lips = np.array(sorted(set(tp.LIPS_INNER) | set(tp.LIPS_OUTER)))
    out = np.zeros((len(names), tp.N_LANDMARKS), np.float32)
    for k, name in enumerate(names):
        spec = region_spec(name)
        if spec.keys:
            g = geodesic_distances(vertices, surface, spec.keys)
            w = np.exp(-0.5 * (g / spec.sigma) ** 2)
            if spec.side:
                w = w * np.clip(0.5 + spec.side * vertices[:, 0] / 1.0, 0.0, 1.0)
            if is_non_speech(name):
                w[lips] = 0.0
            w[w < cutoff] = 0.0
            out[k, :tp.N_MESH] = w
        out[k, list(spec.iris)] = 1.0
    return out
