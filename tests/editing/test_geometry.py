"""The edit's geometry: the offsets of an edit (clip's own for speech, shipped rig or FACS
field for emotion groups, per-group gains), posed displacements, and the lips' posture
closed with every syllable kept."""

from __future__ import annotations

import numpy as np
import pytest

from ned.blendshapes import INDEX
from ned.editing.geometry import (
    CONTACT,
    CONTACT_RAMP,
    DUCHENNE,
    EXERCISED,
    INNER_LIP_PAIRS,
    MAX_GAINS,
    REMOVAL_GAIN,
    REMOVAL_GAINS,
    RISE_FLOOR,
    START_GAINS,
    ExpressionBasis,
    close_lips,
    edited_landmarks,
    emotion_posture,
    initial_gains,
    keep_contact,
    lower_envelope,
    mouth_down,
    pair_openings,
    posture_window,
    rise_floor,
)
from ned.errors import NedError
from ned.facemodel.fields import field_offsets
from ned.facemodel.fit import fit_frames
from ned.facs import TARGETS, group_indices
from ned.metrics.expression import syllable_amplitude
from ned.topology import inter_ocular


@pytest.fixture(scope="module")
def fit(single_face_track):
    t = single_face_track
    return fit_frames(t.landmarks[:45], t.blendshapes[:45], (t.width, t.height))


@pytest.fixture(scope="module")
def carphone_fit(carphone_track):
    t = carphone_track
    return fit_frames(t.landmarks[:45], t.blendshapes[:45], (t.width, t.height))


def test_basis_takes_each_channel_from_the_right_place(carphone_fit, fit):
    basis = ExpressionBasis.for_fit(carphone_fit, {"browDown": 1.2},
                                    raised={"browDown", "browInnerUp"})
    own = carphone_fit.model.offsets
    jaw = INDEX["jawOpen"]
    np.testing.assert_array_equal(basis.offsets[jaw], own[jaw])          # speech: the clip's
    bd = group_indices("browDown")                                       # raised: the field
    np.testing.assert_allclose(basis.offsets[bd], 1.2 * field_offsets()[bd], rtol=1e-6)
    bi = group_indices("browInnerUp")
    np.testing.assert_allclose(basis.offsets[bi], START_GAINS["browInnerUp"] * field_offsets()[bi],
                               rtol=1e-6)
    assert basis.gains["browDown"] == 1.2 and not basis.offsets.flags.writeable
    # a smile lowered (carphone smiles little: not exercised) moves the corners and the
    # cheeks (its field carries AU 6), not the lips' centre
    sm = group_indices("mouthSmile")
    assert "mouthSmile" in basis.lowered
    assert np.abs(basis.offsets[sm][:, 13]).max() < 1e-3
    np.testing.assert_allclose(basis.offsets[sm], REMOVAL_GAINS["mouthSmile"]
                               * field_offsets()[sm], rtol=1e-5, atol=1e-6)
    assert field_offsets()[sm].sum(0)[118, 1] > 0.1                   # the cheek, up
    up = ExpressionBasis.for_fit(carphone_fit, raised={"mouthSmile"})   # raised: the rig's
    assert up.gains["mouthSmile"] == START_GAINS["mouthSmile"] and "mouthSmile" not in up.lowered
    assert np.abs(up.offsets[sm][:, 13]).max() > 0.05
    assert initial_gains({"browDown"})["browInnerUp"] == REMOVAL_GAIN
    # single_face moves his inner brows with his gaze (exercised): raised, it still takes
    # the field, not his own fit of it
    bi_sf = ExpressionBasis.for_fit(fit, raised={"browInnerUp"}).offsets[bi]
    np.testing.assert_allclose(bi_sf, field_offsets()[bi], rtol=1e-6)


def test_a_group_the_clip_exercises_takes_the_clips_own_offsets(fit, single_face_track):
    sm = group_indices("mouthSmile")
    assert single_face_track.blendshapes[:45, sm].std(0).mean() >= EXERCISED   # he grins
    basis = ExpressionBasis.for_fit(fit, raised=set())
    cheek = fit.model.rig.offsets[[INDEX["cheekSquintLeft"], INDEX["cheekSquintRight"]]]
    # at the data's own size (the removal gain is the loop's starting point, factor 1)
    np.testing.assert_allclose(basis.offsets[sm], fit.model.offsets[sm] + DUCHENNE * cheek,
                               rtol=1e-5, atol=1e-6)
    twice = ExpressionBasis.for_fit(fit, {"mouthSmile": 2 * REMOVAL_GAINS["mouthSmile"]},
                                    raised=set())
    np.testing.assert_allclose(twice.offsets[sm], 2 * basis.offsets[sm], rtol=1e-5, atol=1e-6)


def test_gains_are_capped_and_checked(fit):
    assert ExpressionBasis.for_fit(fit, {"eyeWide": 9.0}).gains["eyeWide"] == MAX_GAINS["eyeWide"]
    with pytest.raises(NedError, match="unknown channel group"):
        ExpressionBasis.for_fit(fit, {"jawOpen": 1.0})
    with pytest.raises(NedError, match="finite"):
        ExpressionBasis.for_fit(fit, {"browDown": float("nan")})


def test_zero_edit_is_the_measured_geometry(fit, single_face_track):
    t = single_face_track
    lm, bs = t.landmarks[40:50], t.blendshapes[40:50]
    out = edited_landmarks(fit, ExpressionBasis.for_fit(fit), lm, bs, bs)
    np.testing.assert_allclose(out, lm, atol=1e-3)
    assert out.shape == (10, 478, 3) and out.dtype == np.float32
    assert edited_landmarks(fit, ExpressionBasis.for_fit(fit), lm[:0], bs[:0], bs[:0]).shape[0] == 0


def test_brow_lowering_moves_the_brows_down(fit, single_face_track):
    t = single_face_track
    lm, old = t.landmarks[40:45], t.blendshapes[40:45]
    new = old.copy()
    new[:, group_indices("browDown")] = 0.7
    out = edited_landmarks(fit, ExpressionBasis.for_fit(fit), lm, old, new)
    drop = (out[:, [105, 334], 1] - lm[:, [105, 334], 1]) / inter_ocular(lm)[:, None]
    assert (drop > 0.05).all()                      # image y grows downwards
    np.testing.assert_allclose(out[:, 152], lm[:, 152], atol=0.05)   # the chin stays


def test_lower_envelope_known_answer():
    t = np.arange(60)
    x = 2.0 + np.abs(np.sin(t / 3.0))                # syllables on a floor of 2
    env = lower_envelope(x, 15)
    assert np.allclose(env[15:-15], 2.0, atol=0.15) and env.shape == x.shape
    assert (env <= x + 1e-9).mean() > 0.9            # it sits under the signal
    # a lasting change of level (a grin's lips parting) is posture, followed where it
    # happens (within the final smoothing), not smeared over the window
    step = np.where(t < 30, 0.0, 3.0) + 0.5 * np.abs(np.sin(t / 2.0))
    env = lower_envelope(step, 15)
    assert np.allclose(env[:12], 0.0, atol=0.1) and np.allclose(env[45:], 3.0, atol=0.15)
    assert 28 <= np.argmin(np.abs(env - 1.5)) <= 31 and (np.diff(env) > -1e-9).all()
    assert posture_window(30.0) == 15 and posture_window(5.0) == 3


def test_lower_envelope_leaves_the_syllables_band():
    # lips that part into a grin while they speak: closing half the posture keeps the
    # syllables' amplitude (the envelope's own steps would pass into their band: a box
    # smoothing of a third of the window kept 0.81 to 0.86 of it)
    t = np.arange(150)
    for k in range(3):
        x = np.where(t < 50 + 20 * k, 0.02, 0.2) + 0.04 * np.abs(np.sin(t / (2.0 + k)))
        closed = np.maximum(x - 0.5 * lower_envelope(x, 15), 0)
        assert syllable_amplitude(closed, 30.0) > 0.9 * syllable_amplitude(x, 30.0)
        assert closed[100:].mean() < 0.7 * x[100:].mean()   # the grin's lips did close


def test_close_lips_keeps_the_syllables(single_face_track):
    src = single_face_track.landmarks[20:60].astype(np.float32)
    o_src = pair_openings(src)
    posture = lower_envelope(o_src, 15)
    out = close_lips(src, src, posture, np.ones(len(src)))
    got = pair_openings(out)
    # opening = source opening - its slow floor: each syllable opens as in the source
    np.testing.assert_allclose(got, np.maximum(o_src - posture, 0), atol=1e-3)
    up, low = np.array(INNER_LIP_PAIRS).T
    mid = (out[:, up, :2] + out[:, low, :2]) / 2
    np.testing.assert_allclose(mid, (src[:, up, :2] + src[:, low, :2]) / 2, atol=1e-3)
    assert (o_src - got).mean() > 1.0                # the grin's parted lips did close
    # no strength, no change
    np.testing.assert_array_equal(close_lips(src, src, posture, np.zeros(len(src))), src)


def test_keep_contact_closes_what_the_source_closes(single_face_track):
    """An opening added to every frame (a dropped jaw's) is gone where the source's lips
    touch, whole where they are well apart, and never more than added; an edit that
    narrows the lips is left alone."""
    src = single_face_track.landmarks[:60].astype(np.float32)
    iod = inter_ocular(src)
    up, low = np.array(INNER_LIP_PAIRS).T
    # closed lips, then a grin's (0.2 IOD), then a shout's (the grin's lower lip dropped)
    src[45:, low, :2] += 0.3 * iod[45:, None, None] * mouth_down(src)[45:, None]
    o_src = pair_openings(src)
    extra = 0.1 * iod                                  # pixels, per frame
    dst = src.copy()
    dst[:, low, :2] += extra[:, None, None] * mouth_down(src)[:, None]
    out = keep_contact(src, dst)
    got = pair_openings(out)
    touching = o_src / iod[:, None] <= CONTACT
    apart = o_src / iod[:, None] >= CONTACT + CONTACT_RAMP
    assert touching.sum() > 20 and apart.sum() > 20
    np.testing.assert_allclose(got[touching], o_src[touching], atol=1e-3)
    np.testing.assert_allclose(got[apart], pair_openings(dst)[apart], atol=1e-3)
    assert (got >= o_src - 1e-3).all() and (got <= pair_openings(dst) + 1e-3).all()
    narrowed = src.copy()
    narrowed[:, low, :2] -= 0.3 * extra[:, None, None] * mouth_down(src)[:, None]
    np.testing.assert_allclose(keep_contact(src, narrowed), narrowed, atol=1e-4)


def test_rise_floor_moves_a_face_already_near_the_target():
    old = np.zeros((3, 52), np.float32)
    bi, up = group_indices("browInnerUp"), group_indices("mouthUpperUp")
    old[:, bi] = [[0.0], [0.5], [0.9]]           # his brows read 0.5 at rest
    old[:, up] = [[0.0, 0.0], [0.6, 0.6], [0.2, 0.2]]
    new = old.copy()
    new[:, bi] = 0.6                             # the manipulator reached the level
    out = rise_floor(old, new, "sad", 1.0)
    rise = RISE_FLOOR * TARGETS["sad"]["browInnerUp"]
    np.testing.assert_allclose(out[:, bi[0]], [0.6, 0.5 + rise, 0.9 + rise], atol=1e-6)
    # a speech channel (disgust's upper lip) rises by a constant: the syllables keep shape
    dis = rise_floor(old, old, "disgusted", 0.5)
    np.testing.assert_allclose(dis[:, up] - old[:, up],
                               0.5 * RISE_FLOOR * TARGETS["disgusted"]["mouthUpperUp"], atol=1e-6)
    assert np.array_equal(rise_floor(old, new, None, 1.0), new)   # a reference: unchanged
    # intensity 0: the manipulator's, except that a target group never falls below the source
    np.testing.assert_allclose(rise_floor(old, new, "sad", 0.0)[:, bi[0]], [0.6, 0.6, 0.9])


def test_emotion_posture_drops_the_jaw_for_surprise_only(fit, single_face_track):
    assert emotion_posture("angry", 1.0) is None and emotion_posture("surprised", 0.0) is None
    full, half = emotion_posture("surprised", 1.0), emotion_posture("surprised", 0.5)
    np.testing.assert_allclose(half, 0.5 * full, atol=1e-6)
    assert full[152, 1] < -0.5 and full[14, 1] < -0.5          # chin and lower lip down (cm)
    assert abs(full[13, 1]) < 1e-6 and abs(full[1, 1]) < 1e-6  # upper lip and nose still
    t = single_face_track
    lm, bs = t.landmarks[40:43], t.blendshapes[40:43]
    out = edited_landmarks(fit, ExpressionBasis.for_fit(fit), lm, bs, bs, 1.0, full,
                           np.array([0.0, 0.5, 1.0], np.float32))
    np.testing.assert_allclose(out[0], lm[0], atol=1e-3)         # weight 0: as measured
    gap = (out[:, 14, 1] - out[:, 13, 1]) - (lm[:, 14, 1] - lm[:, 13, 1])
    iod = inter_ocular(lm)
    assert 0.05 < gap[1] / iod[1] < gap[2] / iod[2] < 0.2       # the mouth opens with it
