"""The ported face-api expression model: matches the original's outputs, reads real clips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ned.blendshapes import EMOTIONS
from ned.errors import NedError
from ned.metrics import emotion as emo

DATA = Path(__file__).parent / "data"
REFERENCE = json.loads((DATA / "face_api_reference.json").read_text())


def test_model_loads_with_expected_shape():
    model = emo.load_expression_model()
    assert sum(p.numel() for p in model.parameters()) == 323687
    out = model(torch.zeros(2, 3, 112, 112))
    assert out.shape == (2, 7)


@pytest.mark.parametrize("name", sorted(REFERENCE["outputs"]))
def test_port_matches_original_face_api(name):
    """References: node, @vladmandic/face-api 1.7.15, @tensorflow/tfjs 4.22 cpu backend,
    face-api's own pre-processing (scripts/face_api_reference/make_reference.js)."""
    ref = REFERENCE["outputs"][name]
    crop = np.load(DATA / name)
    assert list(crop.shape) == ref["shape"]
    x = torch.from_numpy(emo.preprocess(crop))[None]
    with torch.inference_mode():
        logits = emo.load_expression_model()(x)[0].numpy()
    np.testing.assert_allclose(logits, ref["logits"], atol=2e-3)
    probs = emo.classify_crops([crop])[0]
    ref_probs = np.asarray(ref["probabilities"])[list(emo.NED_ORDER)]
    np.testing.assert_allclose(probs, ref_probs, atol=1e-4)


def test_label_mapping():
    assert [emo.FACE_API_LABELS[i] for i in emo.NED_ORDER] == [
        "neutral", "angry", "disgusted", "fearful", "happy", "sad", "surprised"]
    assert len(EMOTIONS) == 7


def test_preprocess_pads_and_checks():
    tall = np.full((20, 10, 3), 200, np.uint8)
    x = emo.preprocess(tall)
    assert x.shape == (3, 112, 112) and x.dtype == np.float32
    # zero padding left and right of a tall crop, centred
    assert x[0, 50, 0] == pytest.approx(-emo.MEAN_RGB[0] / 255)
    assert x[0, 50, 56] == pytest.approx((200 - emo.MEAN_RGB[0]) / 255)
    with pytest.raises(NedError):
        emo.preprocess(np.zeros((0, 5, 3), np.uint8))
    assert emo.classify_crops([]).shape == (0, 7)


def test_face_box_is_clipped(single_face_track):
    pts = single_face_track.landmarks[0].copy()
    x, y, w, h = emo.face_box(pts, (360, 640))
    assert 0 <= x and 0 <= y and x + w <= 640 and y + h <= 360 and w > 50 and h > 50
    pts[:, 0] -= pts[:, 0].min() + 30  # face partly left of the frame
    x, y, w, h = emo.face_box(pts, (360, 640))
    assert x == 0 and w > 0


def test_smiling_part_of_single_face_is_happy(single_face_path, single_face_track):
    from ned.metrics.evaluate import classify_video

    probs, _ = classify_video(single_face_path, single_face_track)
    pred = [EMOTIONS[i] for i in probs.argmax(1)]
    assert pred[:12] == ["neutral"] * 12  # first 0.4 s: not yet smiling
    smiling = pred[24:]
    assert smiling.count("happy") / len(smiling) >= 0.9
