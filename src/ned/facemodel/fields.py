"""Hand-set FACS displacement fields of the emotion channels, on the canonical mesh.

A field is given by a few key vertices and their displacement, in inter-ocular distances
(IOD) of the canonical face, in the face's own frame: ``inward`` (towards the midline) and
``up``. It is spread over the skin by Shepard interpolation of the keys (inverse squared
geodesic distance: exact at the keys) times a Gaussian falloff of the distance to the
nearest key. Geodesics run along mesh edges and around the eye and mouth openings, so upper
and lower lids and lips stay separate; zero-displacement keys hold the lids or the lips'
centre still where a field must not move them. One-sided channels (``*Left`` /
``*Right``) act on their half of the face (keys are written for the subject's right half
and mirrored).

Each field is the action unit as an actor poses it clearly (FACS intensity C-D), written
at the target table's level of its group (``ned.facs.TARGETS``) and stored per unit
level: an edit that brings a group to its table level moves the face by the posed
geometry (docs/expressions.md, "The posed geometry"). Several carry the action units the
analyser cannot measure (its cheekSquint and noseSneer outputs are dead): the smile the
cheek raise (AU 6), the upper-lip raise the nose wrinkle (AU 9), the corner depressor the
chin raise (AU 17). They replace the data-fitted rig wherever an edit raises a group (a
per-clip refit of a rarely exercised channel can point anywhere, and the rig's offsets are
entangled and small). :func:`field_offsets` returns them in the rig's units (cm per unit
coefficient), so they pose like the rig's offsets; :func:`posture_offsets` the fixed postures
(the jaw dropped for surprise, the brows knitted for fear and sadness, the nose wrinkled
for disgust).
"""

from __future__ import annotations

import functools

import numpy as np

from ned import topology as tp
from ned.blendshapes import INDEX, N_BLENDSHAPES
from ned.facs import GROUPS

#: Upper-lid points held still by the brow fields (zero-displacement keys).
_LID_ANCHORS = tuple((v, (0.0, 0.0)) for v in (159, 158, 160, 157, 161, 173, 246, 33, 133))
#: Lower-lid points held still by the upper-lid fields.
_LOWER_LID_ANCHORS = tuple((v, (0.0, 0.0)) for v in (145, 144, 153, 163, 154, 7, 155))
#: The lips' centre line (speech): held still by the fields that move the corners.
_LIP_CENTRE = tuple((v, (0.0, 0.0)) for v in (0, 13, 14, 17))


def _posed(level: float, sigma: float, keys: tuple[tuple[int, tuple[float, float]], ...]
           ) -> tuple[float, tuple[tuple[int, tuple[float, float]], ...]]:
    """A field written as the displacement of a clearly posed action unit (FACS C-D) at the
    target table's ``level`` of its group, stored per unit level."""
    return sigma, tuple((v, (i / level, u / level)) for v, (i, u) in keys)


#: group -> (sigma in cm of the falloff, keys: (vertex on the subject's right half,
#: (inward, up) IOD per unit level)). The mirror vertex carries the mirrored key. Each
#: field is written at its posed level (:func:`_posed`): at the target table's level
#: (``ned.facs.TARGETS``) it shows the action unit as an actor poses it, clearly
#: (docs/expressions.md, "The posed geometry").
FIELDS: dict[str, tuple[float, tuple[tuple[int, tuple[float, float]], ...]]] = {
    # AU1: inner brow up and slightly together (the oblique brow of sadness and fear),
    # the forehead above it, the outer brow still
    "browInnerUp": _posed(0.7, 1.2, (
        (107, (0.03, 0.16)), (55, (0.03, 0.15)), (66, (0.02, 0.12)), (65, (0.02, 0.115)),
        (105, (0.0, 0.065)), (52, (0.0, 0.06)), (63, (0.0, 0.02)), (53, (0.0, 0.01)),
        (70, (0.0, 0.0)), (46, (0.0, 0.0)), (108, (0.015, 0.10)), (9, (0.0, 0.10)),
        (8, (0.0, 0.05)), (151, (0.0, 0.06)), (69, (0.0, 0.05)), *_LID_ANCHORS)),
    # AU2: outer brow up (an arch), the lateral forehead with it
    "browOuterUp": _posed(0.7, 1.2, (
        (70, (0.0, 0.19)), (63, (0.0, 0.20)), (46, (0.0, 0.17)), (53, (0.0, 0.19)),
        (105, (0.0, 0.16)), (52, (0.0, 0.15)), (66, (0.0, 0.08)), (65, (0.0, 0.075)),
        (107, (0.0, 0.03)), (55, (0.0, 0.025)), (104, (0.0, 0.11)), (68, (0.0, 0.09)),
        (69, (0.0, 0.08)), *_LID_ANCHORS)),
    # AU4: brows lowered and drawn together, the inner ends most (the V of a frown: the
    # outer ends hardly move), the glabella with them; the skin below the inner brow is
    # pushed down over the lid's crease (the skin compresses towards the lid, which stays)
    "browDown": _posed(0.7, 1.2, (
        (107, (0.10, -0.24)), (55, (0.10, -0.23)), (66, (0.07, -0.18)), (65, (0.07, -0.17)),
        (105, (0.03, -0.10)), (52, (0.03, -0.095)), (63, (0.01, -0.04)), (53, (0.01, -0.035)),
        (70, (0.0, 0.0)), (46, (0.0, 0.0)), (9, (0.0, -0.08)), (8, (0.0, -0.05)),
        (108, (0.06, -0.12)), (69, (0.02, -0.06)), (221, (0.06, -0.15)),
        (222, (0.04, -0.12)), (223, (0.02, -0.08)), (224, (0.01, -0.04)),
        (225, (0.0, -0.02)), (193, (0.05, -0.14)), (189, (0.05, -0.10)),
        (56, (0.02, -0.06)), (28, (0.01, -0.05)), (27, (0.0, -0.03)),
        (29, (0.0, -0.015)), (30, (0.0, 0.0)), *_LID_ANCHORS)),
    # AU5: upper lid raised (white above the iris), its crease with it; lower lid still
    "eyeWide": _posed(0.5, 0.6, (
        (159, (0.0, 0.065)), (158, (0.0, 0.06)), (160, (0.0, 0.06)), (157, (0.0, 0.045)),
        (161, (0.0, 0.045)), (173, (0.0, 0.02)), (246, (0.0, 0.02)), (33, (0.0, 0.0)),
        (133, (0.0, 0.0)), (27, (0.0, 0.04)), (28, (0.0, 0.035)), (29, (0.0, 0.035)),
        (223, (0.0, 0.025)), (222, (0.0, 0.02)), (224, (0.0, 0.02)), *_LOWER_LID_ANCHORS)),
    # AU7 (with AU6's push from below): lower lid raised and straightened, the upper lid
    # a little lower, the skin under the eye with it
    "eyeSquint": _posed(0.4, 0.6, (
        (145, (0.0, 0.04)), (153, (0.0, 0.038)), (144, (0.0, 0.038)), (154, (0.0, 0.028)),
        (163, (0.0, 0.028)), (155, (0.0, 0.01)), (7, (0.0, 0.01)), (33, (0.0, 0.0)),
        (133, (0.0, 0.0)), (159, (0.0, -0.008)), (158, (0.0, -0.008)), (160, (0.0, -0.008)),
        (23, (0.0, 0.03)), (22, (0.0, 0.025)), (24, (0.0, 0.025)), (230, (0.0, 0.015)),
        (229, (0.0, 0.012)), (231, (0.0, 0.012)))),
    # AU12 with AU6: lip corners up and out, the cheek and the lower lid pushed up (the
    # lips' centre does not move: a smile removed lowers the corners, not the upper lip)
    "mouthSmile": _posed(0.75, 0.9, (
        (61, (-0.10, 0.12)), (78, (-0.09, 0.11)), (185, (-0.06, 0.07)), (146, (-0.06, 0.07)),
        (40, (-0.03, 0.04)), (91, (-0.03, 0.04)), (191, (-0.06, 0.08)), (95, (-0.06, 0.08)),
        (205, (-0.01, 0.06)), (50, (0.0, 0.05)), (187, (-0.01, 0.04)), (216, (-0.03, 0.06)),
        (57, (-0.04, 0.07)), (117, (0.0, 0.045)), (118, (0.0, 0.05)), (101, (0.0, 0.05)),
        (100, (0.0, 0.035)), (145, (0.0, 0.02)), (144, (0.0, 0.02)), (153, (0.0, 0.015)),
        (33, (0.0, 0.0)), (133, (0.0, 0.0)), (159, (0.0, 0.0)), *_LIP_CENTRE)),
    # AU15 with AU17: lip corners pulled down, the lower lip and the chin boss pushed up
    # (the mouth's inverted U); both inner lips move alike, so the opening is kept
    "mouthFrown": _posed(0.6, 0.9, (
        (61, (0.0, -0.12)), (78, (0.0, -0.11)), (146, (0.0, -0.08)), (185, (0.0, -0.075)),
        (91, (0.0, -0.035)), (40, (0.0, -0.03)), (95, (0.0, -0.07)), (191, (0.0, -0.07)),
        (57, (0.0, -0.08)), (43, (0.0, -0.065)), (202, (0.0, -0.03)), (186, (0.0, -0.05)),
        (17, (0.0, 0.05)), (84, (0.0, 0.05)), (181, (0.0, 0.035)), (18, (0.0, 0.06)),
        (200, (0.0, 0.06)), (199, (0.0, 0.04)), (175, (0.0, 0.015)), (83, (0.0, 0.055)),
        (182, (0.0, 0.04)), (14, (0.0, 0.02)), (87, (0.0, 0.02)), (178, (0.0, 0.015)),
        (13, (0.0, 0.02)), (82, (0.0, 0.02)), (81, (0.0, 0.015)), (0, (0.0, 0.012)),
        (152, (0.0, 0.0)))),
    # AU23/24: lips pressed and thinned (outer contours towards the lip line), the mouth
    # narrowed, the chin boss raised a little
    "mouthPress": _posed(0.4, 0.5, (
        (0, (0.0, -0.05)), (37, (0.0, -0.05)), (39, (0.0, -0.04)), (40, (0.0, -0.025)),
        (185, (0.0, -0.015)), (17, (0.0, 0.055)), (84, (0.0, 0.055)), (181, (0.0, 0.045)),
        (91, (0.0, 0.03)), (146, (0.0, 0.015)), (61, (0.06, 0.0)), (78, (0.06, 0.0)),
        (191, (0.04, 0.0)), (95, (0.04, 0.0)), (13, (0.0, 0.0)), (14, (0.0, 0.0)),
        (18, (0.0, 0.03)), (200, (0.0, 0.03)))),
    # AU20: lips stretched sideways, the corners a little down
    "mouthStretch": _posed(0.4, 0.8, (
        (61, (-0.12, -0.03)), (78, (-0.11, -0.03)), (146, (-0.09, -0.02)),
        (185, (-0.09, -0.015)), (91, (-0.05, -0.01)), (40, (-0.05, 0.0)),
        (95, (-0.08, -0.015)), (191, (-0.08, -0.015)), (57, (-0.07, -0.02)),
        (43, (-0.05, -0.02)), (212, (-0.04, 0.0)), (186, (-0.05, 0.0)), *_LIP_CENTRE)),
    # AU10 with AU9 (noseSneer is a dead output, so the nose rides on the lip): upper lip
    # raised (most beside the centre), the nasolabial skin and the nose's wings up
    "mouthUpperUp": _posed(0.6, 0.7, (
        (0, (0.0, 0.09)), (37, (0.0, 0.10)), (39, (0.0, 0.09)), (40, (0.0, 0.06)),
        (185, (0.0, 0.03)), (61, (0.0, 0.0)), (78, (0.0, 0.0)), (13, (0.0, 0.07)),
        (82, (0.0, 0.075)), (81, (0.0, 0.07)), (80, (0.0, 0.05)), (191, (0.0, 0.02)),
        (164, (0.0, 0.06)), (167, (0.0, 0.065)), (165, (0.0, 0.055)), (92, (0.0, 0.035)),
        (129, (0.0, 0.07)), (98, (0.0, 0.07)), (64, (0.0, 0.07)), (48, (0.0, 0.06)),
        (102, (0.0, 0.07)), (49, (0.0, 0.06)), (209, (0.0, 0.05)), (131, (0.0, 0.045)),
        (217, (0.0, 0.035)), (126, (0.0, 0.045)), (114, (0.0, 0.025)), (3, (0.0, 0.03)),
        (51, (0.0, 0.04)), (14, (0.0, 0.0)), (17, (0.0, 0.0)))),
}

#: Fixed postures (not blendshape groups), in the same form as :data:`FIELDS`, at level 1:
#: those of the speech's action units (the speech channels keep the clip's own offsets for
#: their motion) and those the analyser cannot measure, so the calibration cannot chase
#: them (``ned.facs.POSTURES``). AU 26: the jaw dropped, the lower lip, the chin and the
#: jaw line with it; the upper lip and the nose still.
POSTURE_FIELDS: dict[str, tuple[float, tuple[tuple[int, tuple[float, float]], ...]]] = {
    "jawDrop": (1.0, (
        (14, (0.0, -0.12)), (87, (0.0, -0.12)), (178, (0.0, -0.11)), (88, (0.0, -0.085)),
        (95, (0.0, -0.055)), (17, (0.0, -0.12)), (84, (0.0, -0.12)), (181, (0.0, -0.11)),
        (91, (0.0, -0.085)), (146, (0.0, -0.055)), (61, (0.01, -0.035)), (78, (0.01, -0.035)),
        (18, (0.0, -0.12)), (200, (0.0, -0.12)), (199, (0.0, -0.12)), (175, (0.0, -0.12)),
        (152, (0.0, -0.12)), (148, (0.0, -0.11)), (176, (0.0, -0.10)), (149, (0.0, -0.075)),
        (150, (0.0, -0.05)), (13, (0.0, 0.0)), (82, (0.0, 0.0)), (0, (0.0, 0.0)),
        (1, (0.0, 0.0)), (57, (0.0, -0.03)))),
    # AU 9, the nose wrinkler (noseSneer is a dead output: a fixed posture, not a
    # calibrated group): the nose's wings and side walls drawn up towards a still root, so
    # the side walls bunch (their creases, ``ned.render.appearance``), the tip a little up,
    # the skin beside the wings and under the eyes raised; the lids and the lips held
    "noseWrinkle": (0.6, (
        (129, (0.01, 0.06)), (98, (0.01, 0.06)), (64, (0.01, 0.06)), (48, (0.0, 0.06)),
        (102, (0.0, 0.06)), (49, (0.0, 0.06)), (209, (0.0, 0.055)), (131, (0.0, 0.05)),
        (217, (0.0, 0.045)), (198, (0.0, 0.04)), (126, (0.0, 0.045)), (114, (0.0, 0.03)),
        (236, (0.0, 0.035)), (174, (0.0, 0.02)), (3, (0.0, 0.03)), (51, (0.0, 0.035)),
        (188, (0.0, 0.01)), (196, (0.0, 0.01)), (47, (0.0, 0.025)), (100, (0.0, 0.02)),
        (4, (0.0, 0.025)), (5, (0.0, 0.02)), (195, (0.0, 0.012)), (45, (0.0, 0.03)),
        (122, (0.0, 0.0)), (6, (0.0, 0.0)), (168, (0.0, 0.0)), (197, (0.0, 0.003)),
        (0, (0.0, 0.0)), (13, (0.0, 0.0)), (14, (0.0, 0.0)), (17, (0.0, 0.0)),
        (61, (0.0, 0.0)), (78, (0.0, 0.0)), (37, (0.0, 0.0)), (82, (0.0, 0.0)),
        *_LID_ANCHORS, *_LOWER_LID_ANCHORS)),
    # AU 4's pull without its lowering (the corrugator's medial part, as fear and sadness
    # show it with AU 1: the raised inner brows drawn together into a straight, tense
    # line, the glabella bunched between them): the inner brows and the skin under them
    # towards a still midline, the outer brows and the lids still
    "browTogether": (1.0, (
        (107, (0.08, 0.0)), (55, (0.08, 0.0)), (66, (0.05, 0.0)), (65, (0.05, 0.0)),
        (105, (0.02, 0.0)), (52, (0.02, 0.0)), (63, (0.0, 0.0)), (53, (0.0, 0.0)),
        (70, (0.0, 0.0)), (46, (0.0, 0.0)), (108, (0.04, 0.0)), (69, (0.015, 0.0)),
        (221, (0.05, 0.0)), (222, (0.03, 0.0)), (193, (0.04, 0.0)), (189, (0.03, 0.0)),
        (9, (0.0, 0.0)), (8, (0.0, 0.0)), (168, (0.0, 0.0)), (151, (0.0, 0.0)),
        (6, (0.0, 0.0)), *_LID_ANCHORS)),
}


def mirror_index(vertices: np.ndarray) -> np.ndarray:
    """(V,) index of each vertex's mirror image (x -> -x).

    Args:
        vertices: (V, 3) canonical mesh (x to the subject's left).
    """
    v = np.asarray(vertices, np.float64)[:, :3]
    m = v * np.array([-1.0, 1.0, 1.0])
    return ((v[None] - m[:, None]) ** 2).sum(-1).argmin(1)


def _geodesics(vertices: np.ndarray, surface: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """(K, V) edge-path distances from each source vertex (one Dijkstra call)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra

    e = np.concatenate([surface[:, [0, 1]], surface[:, [1, 2]], surface[:, [2, 0]]])
    length = np.linalg.norm(vertices[e[:, 0]] - vertices[e[:, 1]], axis=1)
    n = len(vertices)
    graph = coo_matrix((length, (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    return dijkstra(graph, directed=False, indices=sources)


def group_field(name: str, side: int, vertices: np.ndarray, surface: np.ndarray,
                iod: float, mirror: np.ndarray | None = None) -> np.ndarray:
    """(V, 3) displacement (cm) of one group's field at level 1.

    Args:
        name: a group of :data:`FIELDS` or a posture of :data:`POSTURE_FIELDS`.
        side: -1 the subject's right half, +1 the left half, 0 both (unpaired channel).
        vertices: (V, 3) canonical mesh, cm.
        surface: (F, 3) its triangles without the eye and mouth openings.
        iod: the canonical inter-ocular distance, cm.
        mirror: :func:`mirror_index` of ``vertices`` (computed when None).
    """
    table = FIELDS if name in FIELDS else POSTURE_FIELDS
    if name not in table:
        raise KeyError(f"no FACS field for {name!r}; fields: {', '.join(FIELDS)}, "
                       f"{', '.join(POSTURE_FIELDS)}")
    sigma, spec = table[name]
    mirror = mirror_index(vertices) if mirror is None else mirror
    keys, disp = [], []
    for v, (inward, up) in spec:
        for s in ((-1, 1) if side == 0 else (side,)):
            keys.append(v if s == -1 else int(mirror[v]))
            # the subject's right half has x < 0: inward is +x there, -x on the left
            disp.append((inward * (1 if s == -1 else -1) * iod, up * iod, 0.0))
    uniq, inv = np.unique(np.array(keys), return_inverse=True)
    d = np.zeros((len(uniq), 3))
    np.add.at(d, inv, np.array(disp))
    d /= np.bincount(inv)[:, None]
    g = _geodesics(vertices, surface, uniq)                          # (K, V)
    w = 1.0 / np.maximum(g, 1e-6) ** 2
    out = (w[..., None] * d[:, None]).sum(0) / w.sum(0)[:, None]
    out *= np.exp(-0.5 * (g.min(0) / sigma) ** 2)[:, None]
    if side:  # one-sided fields stay on their half (a soft ramp across the midline)
        out *= np.clip(0.5 + side * vertices[:, 0:1], 0.0, 1.0)
    return out


@functools.lru_cache(maxsize=1)
def _canonical() -> tuple[np.ndarray, np.ndarray, float]:
    """The canonical mesh's (468, 3) vertices (cm), its skin triangles (without the eye
    and mouth openings) and its inter-ocular distance (cm)."""
    from ned.facemodel.mesh import aperture_triangles, load_canonical_mesh

    mesh = load_canonical_mesh()
    v = np.asarray(mesh.vertices, np.float64)[:tp.N_MESH]
    tris = np.asarray(mesh.triangles)
    ap = aperture_triangles(tris)
    right = v[[tp.RIGHT_EYE_OUTER, tp.RIGHT_EYE_INNER]].mean(0)
    left = v[[tp.LEFT_EYE_OUTER, tp.LEFT_EYE_INNER]].mean(0)
    return v, tris[~(ap["mouth"] | ap["eyes"])], float(np.linalg.norm((left - right)[:2]))


@functools.lru_cache(maxsize=1)
def field_offsets() -> np.ndarray:
    """(52, 478, 3) float32 cm per unit coefficient: the fields of every channel of the
    groups in :data:`FIELDS` (zero rows elsewhere; iris points do not move). Read-only."""
    v, surface, iod = _canonical()
    mirror = mirror_index(v)
    out = np.zeros((N_BLENDSHAPES, tp.N_LANDMARKS, 3), np.float32)
    for group in FIELDS:
        channels = GROUPS[group]
        if len(channels) == 1:
            out[INDEX[channels[0]], :tp.N_MESH] = group_field(group, 0, v, surface, iod, mirror)
        else:
            for name, side in zip(channels, (+1, -1)):   # *Left, *Right
                out[INDEX[name], :tp.N_MESH] = group_field(group, side, v, surface, iod,
                                                              mirror)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=8)
def posture_offsets(name: str) -> np.ndarray:
    """(478, 3) float32 cm at level 1: the posture field ``name`` of
    :data:`POSTURE_FIELDS` (both halves; iris points do not move). Read-only."""
    if name not in POSTURE_FIELDS:
        raise KeyError(f"no posture field {name!r}; postures: {', '.join(POSTURE_FIELDS)}")
    v, surface, iod = _canonical()
    out = np.zeros((tp.N_LANDMARKS, 3), np.float32)
    out[:tp.N_MESH] = group_field(name, 0, v, surface, iod)
    out.flags.writeable = False
    return out
