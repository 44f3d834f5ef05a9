"""The canonical MediaPipe face mesh, parsed from the shipped landmarker bundle.

The bundle ``src/ned/assets/face_landmarker.task`` (a zip) holds
``geometry_pipeline_metadata_landmarks.binarypb``, a serialised
``GeometryPipelineMetadata`` protobuf message. The mediapipe wheel does not ship its
Python message class, so this module reads the protobuf wire format itself (varints,
length-delimited fields, packed repeated floats / uint32); no ``protobuf`` dependency.

Message layout used (field numbers of mediapipe's ``geometry_pipeline_metadata.proto``):
``GeometryPipelineMetadata { 1: Mesh3d canonical_mesh {1: vertex_type, 2: primitive_type,
3: repeated float vertex_buffer (x y z u v), 4: repeated uint32 index_buffer},
2: repeated WeightedLandmarkRef procrustes_landmark_basis {1: landmark_id, 2: weight},
3: input_source }``. Repeated fields are accepted packed or unpacked.
"""

from __future__ import annotations

import functools
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ned.errors import NedError
from ned.topology import N_MESH

MESH_ENTRY = "geometry_pipeline_metadata_landmarks.binarypb"
N_VERTICES = N_MESH
N_TRIANGLES = 898


@dataclass(frozen=True)
class CanonicalMesh:
    """The landmarker's canonical face mesh.

    Attributes:
        vertices: (468, 3) float32, centimetres; x to the subject's left (image right in a
            frontal view), y up, z towards the camera.
        uv: (468, 2) float32 texture coordinates in [0, 1].
        triangles: (898, 3) int32 vertex indices, counter-clockwise seen from the front
            (in the y-up frame).
        procrustes_ids: (K,) int32 landmark ids of the bundle's Procrustes basis.
        procrustes_weights: (K,) float32 their weights.
    """

    vertices: np.ndarray
    uv: np.ndarray
    triangles: np.ndarray
    procrustes_ids: np.ndarray
    procrustes_weights: np.ndarray

    @property
    def nmfc_colors(self) -> np.ndarray:
        """(468, 3) float32 in [0, 1]: canonical x, y, z each normalised to [0, 1]
        over the mesh (the paper's normalised mean-face coordinates)."""
        return normalized_coordinates(self.vertices)


def normalized_coordinates(vertices: np.ndarray) -> np.ndarray:
    """(V, 3) coordinates mapped per axis to [0, 1] by the min/max of ``vertices``."""
    lo, hi = vertices.min(0), vertices.max(0)
    return ((vertices - lo) / np.maximum(hi - lo, 1e-9)).astype(np.float32)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise NedError("truncated protobuf varint in the face-mesh metadata")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def read_fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """Decode one protobuf message into (field number, wire type, value) triples.

    Varints (type 0) give ints, length-delimited (type 2) give bytes, fixed32 / fixed64
    (types 5 / 1) give the raw bytes. Groups are not supported (not used by the file).
    """
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            out.append((field, wire, value))
        elif wire == 2:
            n, pos = _varint(buf, pos)
            out.append((field, wire, buf[pos:pos + n]))
            pos += n
        elif wire in (1, 5):
            n = 8 if wire == 1 else 4
            out.append((field, wire, buf[pos:pos + n]))
            pos += n
        else:
            raise NedError(f"unsupported protobuf wire type {wire} in the face-mesh metadata")
    if pos != len(buf):
        raise NedError("truncated protobuf message in the face-mesh metadata")
    return out


def _floats(fields: list, number: int) -> np.ndarray:
    chunks = []
    for f, wire, v in fields:
        if f != number:
            continue
        chunks.append(np.frombuffer(v, "<f4") if wire == 2 else np.frombuffer(v, "<f4")[:1])
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def _uints(fields: list, number: int) -> np.ndarray:
    vals: list[int] = []
    for f, wire, v in fields:
        if f != number:
            continue
        if wire == 0:
            vals.append(int(v))
        else:
            p = 0
            while p < len(v):
                x, p = _varint(v, p)
                vals.append(x)
    return np.asarray(vals, np.int64)


def parse_metadata(data: bytes) -> CanonicalMesh:
    """Parse a ``GeometryPipelineMetadata`` message (bytes) into a :class:`CanonicalMesh`."""
    top = read_fields(data)
    mesh_msgs = [v for f, w, v in top if f == 1 and w == 2]
    if not mesh_msgs:
        raise NedError("face-mesh metadata has no canonical mesh")
    mesh = read_fields(mesh_msgs[0])
    vbuf = _floats(mesh, 3)
    ibuf = _uints(mesh, 4)
    if vbuf.size % 5 or ibuf.size % 3:
        raise NedError("face-mesh metadata has a malformed vertex or index buffer")
    v = vbuf.reshape(-1, 5)
    ids, weights = [], []
    for f, w, sub in top:
        if f == 2 and w == 2:
            ref = read_fields(sub)
            ids.append(next((int(x) for n, _, x in ref if n == 1), 0))
            weights.append(next((float(np.frombuffer(x, "<f4")[0]) for n, ww, x in ref
                                 if n == 2 and ww == 5), 0.0))
    return CanonicalMesh(vertices=v[:, :3].astype(np.float32).copy(),
                         uv=v[:, 3:].astype(np.float32).copy(),
                         triangles=ibuf.reshape(-1, 3).astype(np.int32),
                         procrustes_ids=np.asarray(ids, np.int32),
                         procrustes_weights=np.asarray(weights, np.float32))


def default_bundle() -> Path:
    """Path of the landmarker bundle shipped with ned."""
    return Path(str(resources.files("ned") / "assets" / "face_landmarker.task"))


def load_canonical_mesh(bundle: str | Path | None = None) -> CanonicalMesh:
    """Read the canonical mesh from a landmarker ``.task`` bundle (default: the shipped one).

    Raises:
        NedError: if the file is missing, not a zip, or lacks the mesh metadata.
    """
    path = Path(bundle) if bundle is not None else default_bundle()
    return _load_cached(str(path.resolve()))


@functools.lru_cache(maxsize=4)
def _load_cached(path: str) -> CanonicalMesh:
    if not Path(path).is_file():
        raise NedError(f"landmarker bundle not found: {path}")
    try:
        with zipfile.ZipFile(path) as z:
            data = z.read(MESH_ENTRY)
    except zipfile.BadZipFile:
        raise NedError(f"{path} is not a landmarker bundle (not a zip)") from None
    except KeyError:
        raise NedError(f"{path} has no {MESH_ENTRY}") from None
    mesh = parse_metadata(data)
    if mesh.vertices.shape != (N_VERTICES, 3) or mesh.triangles.shape != (N_TRIANGLES, 3):
        raise NedError(f"{path}: unexpected canonical mesh {mesh.vertices.shape[0]} vertices, "
                       f"{mesh.triangles.shape[0]} triangles")
    return mesh



def aperture_triangles(triangles: np.ndarray) -> dict[str, np.ndarray]:
    """Triangles that fill the mouth and eye openings of the mesh.

    The MediaPipe mesh closes the mouth and the eyes with triangles between the inner-lip
    loop and between the eyelid loops. Returns boolean masks (F,) under ``"mouth"`` and
    ``"eyes"``: a triangle belongs to an opening when all its vertices lie on that loop.
    """
    from ned import topology as tp

    def on(loop: tuple[int, ...]) -> np.ndarray:
        return np.isin(triangles, loop).all(axis=1)

    return {"mouth": on(tp.LIPS_INNER), "eyes": on(tp.LEFT_EYE) | on(tp.RIGHT_EYE)}
