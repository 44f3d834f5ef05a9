"""The analysis's occlusion pass: masks packed into record rows and back, options checked,
frames returned in order (at once without hands, held back for the hand search with them),
and what it records on a clip (the appearance check's blobs and the hands found)."""

from __future__ import annotations

import numpy as np
import pytest

from ned.analysis.occlusion import (
    AppearanceCheck,
    Occluders,
    OcclusionConfig,
    pack_mask,
    unpack_mask,
)
from ned.errors import NedError
from tests.analysis.test_hands import Scripted


def test_masks_pack_into_rows_and_back():
    rng = np.random.default_rng(0)
    m = (rng.random((96, 96)) > 0.7).astype(np.uint8)
    bits = pack_mask(m)
    assert bits.shape == (1152,) and bits.dtype == np.uint8
    assert np.array_equal(unpack_mask(bits, 96), m)
    with pytest.raises(NedError):
        unpack_mask(bits, 64)


def test_config_is_checked_and_round_trips():
    for bad in ({"size": 20}, {"low": 50.0}, {"warmup": 0}, {"grow": -1}):
        with pytest.raises(NedError):
            OcclusionConfig(**bad)
    cfg = OcclusionConfig(hands=False, size=64)
    assert OcclusionConfig.from_dict(cfg.to_dict()) == cfg


def test_frames_come_out_in_order(single_face_track):
    face = single_face_track.landmarks[0]
    image = np.zeros((360, 640, 3), np.uint8)
    with Occluders(OcclusionConfig(hands=False)) as occ:
        got = [r.index for i in range(5) for r in occ.push(i, image, face if i != 2 else None)]
        assert got == list(range(5)) and occ.flush() == [] and occ.searched == 0
    with Occluders() as occ:
        occ._hands._model = Scripted()
        got = []
        for i in range(20):
            got += occ.push(i, np.full((360, 640, 3), i, np.uint8), face)
        got += occ.flush()
    assert [r.index for r in got] == list(range(20))
    assert all(r.bits.shape == (1152,) and r.hands.shape == (4, 21, 2) for r in got)
    assert 0 < occ.searched < 10


def test_appearance_check_refuses_a_grey_image(single_face_track):
    with pytest.raises(NedError):
        AppearanceCheck()(np.zeros((360, 640), np.uint8), single_face_track.landmarks[0])
