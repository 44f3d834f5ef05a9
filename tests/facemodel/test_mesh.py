"""Canonical mesh: parsing the shipped bundle, the wire-format reader, NMFC colours."""

from __future__ import annotations

import struct
import zipfile

import numpy as np
import pytest

from ned.errors import NedError
from ned.facemodel.mesh import aperture_triangles, load_canonical_mesh, parse_metadata, read_fields


def _varint(n: int) -> bytes:
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def _field(num: int, wire: int, payload: bytes) -> bytes:
    key = _varint(num << 3 | wire)
    return key + (_varint(len(payload)) + payload if wire == 2 else payload)


def test_shipped_mesh_shapes_and_ranges():
    m = load_canonical_mesh()
    assert m.vertices.shape == (468, 3) and m.uv.shape == (468, 2)
    assert m.triangles.shape == (898, 3)
    assert m.triangles.min() == 0 and m.triangles.max() == 467
    assert (m.uv >= 0).all() and (m.uv <= 1).all()
    # subject's right eye outer corner (33) is on the -x side, chin below the nose
    assert m.vertices[33, 0] < 0 < m.vertices[263, 0]
    assert m.vertices[152, 1] < m.vertices[1, 1]
    a = m.vertices[m.triangles]
    n = np.cross(a[:, 1] - a[:, 0], a[:, 2] - a[:, 0])
    assert (n[:, 2] > 0).mean() > 0.95          # counter-clockwise seen from the front


def test_nmfc_colours_are_normalised_canonical_coordinates():
    m = load_canonical_mesh()
    c = m.nmfc_colors
    assert c.shape == (468, 3) and c.dtype == np.float32
    np.testing.assert_allclose(c.min(0), 0.0, atol=1e-6)
    np.testing.assert_allclose(c.max(0), 1.0, atol=1e-6)
    v = m.vertices
    i = int(np.argmax(v[:, 2]))                 # nearest point to the camera: blue = 1
    assert c[i, 2] == pytest.approx(1.0)
    assert c[152, 1] == pytest.approx(0.0)      # chin is the lowest point: green = 0
    expect = (v[10] - v.min(0)) / (v.max(0) - v.min(0))
    np.testing.assert_allclose(c[10], expect, atol=1e-6)


def test_wire_reader_decodes_packed_and_unpacked_fields():
    floats = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)
    msg = _field(1, 0, _varint(300)) + _field(3, 2, floats) + _field(3, 5, struct.pack("<f", 5))
    fields = read_fields(msg)
    assert fields[0] == (1, 0, 300)
    assert fields[1][2] == floats and fields[2][1] == 5


def test_parse_metadata_of_a_handmade_mesh():
    verts = np.arange(15, dtype="<f4")           # 3 vertices x (x y z u v)
    mesh = _field(3, 2, verts.tobytes()) + b"".join(_field(4, 0, _varint(i)) for i in (0, 1, 2))
    ref = _field(1, 0, _varint(7)) + _field(2, 5, struct.pack("<f", 0.5))
    m = parse_metadata(_field(1, 2, mesh) + _field(2, 2, ref))
    np.testing.assert_array_equal(m.vertices, verts.reshape(3, 5)[:, :3])
    np.testing.assert_array_equal(m.uv, verts.reshape(3, 5)[:, 3:])
    np.testing.assert_array_equal(m.triangles, [[0, 1, 2]])
    assert list(m.procrustes_ids) == [7] and m.procrustes_weights[0] == 0.5


def test_bad_bundles_raise_one_line_errors(tmp_path):
    with pytest.raises(NedError, match="not found"):
        load_canonical_mesh(tmp_path / "missing.task")
    junk = tmp_path / "junk.task"
    junk.write_bytes(b"not a zip")
    with pytest.raises(NedError, match="not a landmarker bundle"):
        load_canonical_mesh(junk)
    empty = tmp_path / "empty.task"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("other.txt", "x")
    with pytest.raises(NedError, match="has no"):
        load_canonical_mesh(empty)
    with pytest.raises(NedError, match="truncated"):
        read_fields(b"\x0a\x05ab")


def test_aperture_triangles_close_mouth_and_eyes():
    ap = aperture_triangles(load_canonical_mesh().triangles)
    assert ap["mouth"].sum() == 18 and ap["eyes"].sum() == 28
    assert not (ap["mouth"] & ap["eyes"]).any()
