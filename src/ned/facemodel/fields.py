"""Hand-set FACS displacement fields of the emotion channels, on the canonical mesh.

A field is given by a few key vertices and their displacement at level 1, in inter-ocular
distances (IOD) of the canonical face, in the face's own frame: ``inward`` (towards the
midline) and ``up``. It is spread over the skin by Shepard interpolation of the keys
(inverse squared geodesic distance: exact at the keys) times a Gaussian falloff of the
distance to the nearest key. Geodesics run along mesh edges and around the eye and mouth
openings, so upper and lower lids and lips stay separate; zero-displacement keys hold the
upper lids still under the brow fields. One-sided channels (``*Left`` / ``*Right``) act on
their half of the face (keys are written for the subject's right half and mirrored).

The fields replace the data-fitted rig where the rig is unreliable for an edit (measured:
docs/expressions.md): the inner and outer brow raise (a per-clip refit of a rarely
exercised channel can point anywhere), the lip-corner depressor and the lip press.
:func:`field_offsets` returns them in the rig's units (cm per unit coefficient), so they
pose like the rig's offsets.
"""

from __future__ import annotations

import functools

import numpy as np

from ned import topology as tp
from ned.blendshapes import INDEX, N_BLENDSHAPES
from ned.facs import GROUPS

#: Upper-lid points held still by the brow fields (zero-displacement keys).
_LID_ANCHORS = tuple((v, (0.0, 0.0)) for v in (159, 158, 160, 157, 161, 173, 246, 33, 133))

#: group -> (sigma in cm of the falloff, keys: (vertex on the subject's right half,
#: (inward, up) IOD at level 1)). The mirror vertex carries the mirrored key.
FIELDS: dict[str, tuple[float, tuple[tuple[int, tuple[float, float]], ...]]] = {
    # AU1: inner brow up (and slightly together), the forehead above it
    "browInnerUp": (1.2, ((107, (0.01, 0.09)), (66, (0.005, 0.08)), (55, (0.01, 0.085)),
                          (65, (0.005, 0.07)), (105, (0.0, 0.04)), (52, (0.0, 0.035)),
                          (9, (0.0, 0.04)), (151, (0.0, 0.03)), *_LID_ANCHORS)),
    # AU2: outer brow up
    "browOuterUp": (1.2, ((46, (0.0, 0.09)), (53, (0.0, 0.09)), (70, (0.0, 0.085)),
                          (63, (0.0, 0.085)), (52, (0.0, 0.06)), (105, (0.0, 0.055)),
                          (65, (0.0, 0.03)), (66, (0.0, 0.03)), *_LID_ANCHORS)),
    # AU12: lip corner up and out, the cheek pushed up (the lips' centre does not move:
    # a smile removed lowers the corners, not the upper lip)
    "mouthSmile": (0.9, ((61, (-0.07, 0.09)), (78, (-0.06, 0.08)), (185, (-0.04, 0.05)),
                         (146, (-0.04, 0.05)), (40, (-0.02, 0.03)), (91, (-0.02, 0.03)),
                         (191, (-0.04, 0.06)), (95, (-0.04, 0.06)), (205, (-0.01, 0.035)),
                         (50, (0.0, 0.025)), (187, (-0.01, 0.03)), (216, (-0.02, 0.04)),
                         (57, (-0.03, 0.05)), (0, (0.0, 0.0)), (13, (0.0, 0.0)),
                         (14, (0.0, 0.0)), (17, (0.0, 0.0)))),
    # AU15: lip corner down
    "mouthFrown": (0.9, ((61, (-0.01, -0.08)), (78, (-0.01, -0.07)), (146, (0.0, -0.05)),
                         (185, (0.0, -0.05)), (91, (0.0, -0.03)), (95, (0.0, -0.05)),
                         (191, (0.0, -0.05)), (57, (0.0, -0.05)), (43, (0.0, -0.03)))),
    # AU23/24: lips pressed and thinned (outer contours towards the lip line), corners in
    "mouthPress": (0.5, ((0, (0.0, -0.03)), (37, (0.0, -0.03)), (39, (0.0, -0.025)),
                         (40, (0.0, -0.015)), (185, (0.0, -0.01)), (17, (0.0, 0.035)),
                         (84, (0.0, 0.035)), (181, (0.0, 0.03)), (91, (0.0, 0.02)),
                         (146, (0.0, 0.01)), (61, (0.01, 0.0)), (78, (0.01, 0.0)),
                         (13, (0.0, -0.005)), (14, (0.0, 0.005)))),
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
        name: a group of :data:`FIELDS`.
        side: -1 the subject's right half, +1 the left half, 0 both (unpaired channel).
        vertices: (V, 3) canonical mesh, cm.
        surface: (F, 3) its triangles without the eye and mouth openings.
        iod: the canonical inter-ocular distance, cm.
        mirror: :func:`mirror_index` of ``vertices`` (computed when None).
    """
    if name not in FIELDS:
        raise KeyError(f"no FACS field for {name!r}; fields: {', '.join(FIELDS)}")
    sigma, spec = FIELDS[name]
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
def field_offsets() -> np.ndarray:
    """(52, 478, 3) float32 cm per unit coefficient: the fields of every channel of the
    groups in :data:`FIELDS` (zero rows elsewhere; iris points do not move). Read-only."""
    from ned.facemodel.mesh import aperture_triangles, load_canonical_mesh

    mesh = load_canonical_mesh()
    v = np.asarray(mesh.vertices, np.float64)[:tp.N_MESH]
    tris = np.asarray(mesh.triangles)
    ap = aperture_triangles(tris)
    surface = tris[~(ap["mouth"] | ap["eyes"])]
    right = v[[tp.RIGHT_EYE_OUTER, tp.RIGHT_EYE_INNER]].mean(0)
    left = v[[tp.LEFT_EYE_OUTER, tp.LEFT_EYE_INNER]].mean(0)
    iod = float(np.linalg.norm((left - right)[:2]))
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
