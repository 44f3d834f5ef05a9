"""Rasteriser: z-buffer, coverage, interpolation, culling, determinism, errors."""

from __future__ import annotations

import numpy as np
import pytest

from ned.errors import NedError
from ned.facemodel.raster import rasterize

TRI = np.array([[0, 1, 2], [3, 4, 5]])


def _two_triangles(z_first: float, z_second: float) -> np.ndarray:
    """Two overlapping triangles; the second is smaller and fully inside the first."""
    v = np.array([[[4, 4, z_first], [60, 4, z_first], [4, 60, z_first],
                   [10, 10, z_second], [30, 10, z_second], [10, 30, z_second]]], np.float32)
    return v


def _colours(b: int = 1) -> np.ndarray:
    return np.tile(np.array([[1, 0, 0]] * 3 + [[0, 1, 0]] * 3, np.float32), (b, 1, 1))


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_z_buffer_hides_the_occluded_triangle(order):
    tri = TRI[list(order)]
    near_first = rasterize(_two_triangles(1.0, 5.0), tri, _colours(), 64)
    # the small triangle is behind: it never shows
    assert (near_first.triangle[0] >= 0).sum() > 1000
    assert not (near_first.image[0, ..., 1] > 0).any()
    near_second = rasterize(_two_triangles(5.0, 1.0), tri, _colours(), 64)
    # now it is in front: it shows exactly where it covers
    green = near_second.image[0, ..., 1] > 0.5
    assert 150 < green.sum() < 260                     # area 200 px
    assert near_second.image[0, 20, 15, 1] == 1.0 and near_second.image[0, 40, 40, 0] == 0.0
    assert near_second.depth[0, 15, 15] == pytest.approx(1.0)


def test_coverage_matches_area_and_vertices_get_their_attributes():
    v = np.array([[[2, 2, 0], [50, 2, 0], [2, 40, 0]]], np.float32)
    attr = np.array([[[1, 0, 0], [0, 1, 0], [0, 0, 1]]], np.float32)
    r = rasterize(v, np.array([[0, 1, 2]]), attr, 64)
    assert abs(int(r.coverage.sum()) - 48 * 38 / 2) < 60
    np.testing.assert_allclose(r.image[0, 2, 2], [1, 0, 0], atol=1e-5)
    np.testing.assert_allclose(r.image[0, 2, 50], [0, 1, 0], atol=1e-5)
    np.testing.assert_allclose(r.image[0, 40, 2], [0, 0, 1], atol=1e-5)
    np.testing.assert_allclose(r.image[0, 10, 20], [1 - 18 / 48 - 8 / 38, 18 / 48, 8 / 38],
                               atol=1e-5)
    np.testing.assert_allclose(r.image[r.coverage].sum(-1), 1.0, atol=1e-5)


def test_back_face_culling_and_clipping():
    v = np.array([[[2, 2, 0], [50, 2, 0], [2, 40, 0]]], np.float32)   # positive image area
    tri = np.array([[0, 1, 2]])
    attr = np.ones((1, 3, 1), np.float32)
    assert rasterize(v, tri, attr, 64, cull=+1).coverage.any()
    assert not rasterize(v, tri, attr, 64, cull=-1).coverage.any()
    big = v * 4 - 20                                                   # mostly off-image
    assert rasterize(big, tri, attr, 64).coverage.sum() > 0


def test_batched_is_deterministic_and_equals_single():
    rng = np.random.default_rng(0)
    v = rng.uniform(0, 64, (3, 30, 3)).astype(np.float32)
    tri = rng.integers(0, 30, (40, 3))
    attr = rng.uniform(0, 1, (3, 30, 2)).astype(np.float32)
    a, b = rasterize(v, tri, attr, 64), rasterize(v, tri, attr, 64)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.triangle, b.triangle)
    one = rasterize(v[1:2], tri, attr[1:2], 64)
    np.testing.assert_array_equal(a.image[1], one.image[0])


def test_bad_inputs():
    v = np.zeros((1, 3, 3), np.float32)
    with pytest.raises(NedError, match="vertices"):
        rasterize(v[0], np.array([[0, 1, 2]]), v, 8)
    with pytest.raises(NedError, match="out of range"):
        rasterize(v, np.array([[0, 1, 3]]), v, 8)
    with pytest.raises(NedError, match="attributes"):
        rasterize(v, np.array([[0, 1, 2]]), v[:, :2], 8)
