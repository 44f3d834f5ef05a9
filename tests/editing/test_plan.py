"""The streamed edit planner: same plan whatever the chunking, and equal to planning the
whole clip at once (the manipulator's windows, the gap ramps and the geometry are local)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import uniform_filter1d

from ned.analysis.stream import RowChunk
from ned.editing.config import EditConfig, PassReason
from ned.editing.geometry import (
    ExpressionBasis,
    close_lips,
    edited_landmarks,
    emotion_posture,
    keep_contact,
    lower_envelope,
    pair_openings,
    rise_floor,
)
from ned.editing.guards import (
    GuardConfig,
    gap_weights,
    keep_lid_state,
    pose_weights,
    range_weights,
    segments,
)
from ned.editing.plan import (
    LIP_CLOSURE,
    MOUTH_CHANNELS,
    SPEECH_POSTURE_S,
    EditPlanner,
    PlanConfig,
)
from ned.facemodel.deform import ArapSolver, fold_free
from ned.facemodel.fit import fit_frames
from ned.facs import LIPS_CLOSED, TARGETS, group_indices
from ned.manipulator.infer import label_style, translate
from ned.render.warp import fold_fraction


@pytest.fixture(scope="module")
def rows(single_face_track):
    """single_face.mp4's rows with 3 leading no-face frames, a gap at 20-23, a cut at 50."""
    t = single_face_track
    valid = t.valid.copy()
    valid[:3] = False
    valid[20:24] = False
    cut = np.zeros(t.n_frames, bool)
    cut[50] = True
    lm = np.where(valid[:, None, None], t.landmarks, 0).astype(np.float32)
    return dict(valid=valid, landmarks=lm, blendshapes=t.blendshapes.astype(np.float32),
                transforms=t.transforms.astype(np.float32), timestamps=t.timestamps, cut=cut,
                size=(t.width, t.height), fps=t.fps)


def _chunks(rows, n):
    total = len(rows["valid"])
    for s in range(0, total, n):
        sl = slice(s, s + n)
        yield RowChunk(s, rows["valid"][sl], rows["landmarks"][sl], rows["blendshapes"][sl],
                       rows["transforms"][sl], rows["timestamps"][sl], rows["cut"][sl])


def _plan(manip, rows, chunk, cfg, start=None, emotion="surprised"):
    style = label_style(manip, emotion, 0)
    config = EditConfig.build(emotion=emotion, start=start, **cfg)
    planner = EditPlanner(manip, style, config, rows["size"], rows["fps"],
                          PlanConfig(fit_frames=30, block=16))
    return list(planner.plans(_chunks(rows, chunk))), planner


def test_one_plan_per_frame_in_order(manip, rows):
    plans, _ = _plan(manip, rows, 8, {})
    assert [p.index for p in plans] == list(range(len(rows["valid"])))
    for p, ok in zip(plans, rows["valid"]):
        assert (p.src is None) == (not ok)
        assert (p.passed == PassReason.NO_FACE) == (not ok)
    assert plans[50].cut and not plans[49].cut
    assert sum(p.passed is None for p in plans) == int(rows["valid"].sum())


@pytest.mark.parametrize("chunk", [1, 5, 72])
def test_plan_does_not_depend_on_chunking(manip, rows, chunk):
    ref, _ = _plan(manip, rows, 8, {})
    got, _ = _plan(manip, rows, chunk, {})
    for a, b in zip(ref, got):
        assert a.passed == b.passed and a.weight == b.weight
        if a.src is not None:
            assert np.array_equal(a.dst, b.dst)


@pytest.mark.parametrize("emotion", ["surprised", "angry"])  # angry also closes the lips
def test_plan_equals_whole_clip_planning(manip, rows, emotion):
    """Block-wise planning gives what planning every run of the clip at once gives."""
    plans, planner = _plan(manip, rows, 8, {}, start=0.5, emotion=emotion)
    valid, cut, old = rows["valid"], np.flatnonzero(rows["cut"]), rows["blendshapes"]
    lm = rows["landmarks"]
    style_new = old.copy()
    speech, width = manip.speech_idx, int(round(SPEECH_POSTURE_S * rows["fps"])) | 1
    posture = (speech if emotion in LIPS_CLOSED else
               group_indices("mouthUpperUp") if "mouthUpperUp" in TARGETS[emotion] else [])
    for a, b in segments(valid, cut):
        y = np.clip(translate(manip, old[a:b], valid[a:b], emotion=emotion), 0, 1)
        y = rise_floor(old[a:b], y, emotion, 1.0)
        # speech channels: the source's motion, the manipulator's posture change where the
        # target may change it
        slow = old[a:b, posture] + uniform_filter1d(y[:, posture] - old[a:b, posture], width,
                                                    axis=0, mode="nearest")
        y[:, speech] = old[a:b, speech]
        y[:, posture] = slow
        # the other mouth channels: the target's level, the source's motion
        mouth = [i for i in MOUTH_CHANNELS if i not in speech]
        y[:, mouth] = old[a:b, mouth] + uniform_filter1d(y[:, mouth] - old[a:b, mouth], width,
                                                         axis=0, mode="nearest")
        style_new[a:b] = y
    w = (range_weights(rows["timestamps"], 0.5, None, 0.3)
         * pose_weights(rows["transforms"], valid, GuardConfig())
         * gap_weights(valid, cut, GuardConfig().gap_ramp))
    new = keep_lid_state(old, style_new, GuardConfig())
    new = old + w[:, None] * (new - old)
    first = np.flatnonzero(valid)[:30]
    fit = fit_frames(lm[first], old[first], rows["size"])
    assert np.allclose(fit.identity, planner.fit.identity)
    use = valid & (w > 0)
    dst = lm.copy()
    basis = ExpressionBasis.for_fit(fit, raised=TARGETS[emotion])
    dst[use] = edited_landmarks(fit, basis, lm[use], old[use], new[use], 1.0,
                                emotion_posture(emotion, 1.0), w[use])
    # the removal alone (what the target raises left as measured): the fold repair's base
    raised = [i for g in TARGETS[emotion] for i in group_indices(g)]
    part = new.copy()
    part[:, raised] = old[:, raised]
    base = lm.copy()
    base[use] = edited_landmarks(fit, basis, lm[use], old[use], part[use], 1.0, None, w[use])
    if emotion == "angry":
        posture = np.zeros((len(lm), 9))
        for a, b in segments(valid, cut):
            posture[a:b] = lower_envelope(pair_openings(lm[a:b]), planner.lip_width)
        dst[use] = close_lips(lm[use], dst[use], posture[use], LIP_CLOSURE * w[use])
        base[use] = close_lips(lm[use], base[use], posture[use], LIP_CLOSURE * w[use])
    # lips that touch in the source touch in the edit
    dst[use] = keep_contact(lm[use], dst[use])
    base[use] = keep_contact(lm[use], base[use])
    solver = ArapSolver(np.median(lm[first], axis=0))
    got_w = np.array([p.weight for p in plans])
    assert np.allclose(got_w, w, atol=1e-6)
    assert (got_w[:20] < 1).any() and got_w[30] == pytest.approx(1.0)  # the range ramp
    for p in plans:
        if p.passed is None:  # the plan's geometry is made fold-free
            want = fold_free(solver, p.src, dst[p.index], base=base[p.index])[0]
            np.testing.assert_allclose(p.dst, want, atol=2e-3)
            assert fold_fraction(p.dst, p.src) == 0
            assert 0 < p.reached <= p.weight + 1e-6
    moved = [np.abs(p.dst - p.src).max() for p in plans if p.passed is None]
    assert max(moved) > 1.0  # the comparison is not between two unedited clips


def test_gap_frames_fade_cuts_and_ends_do_not(manip, rows):
    plans, _ = _plan(manip, rows, 8, {})
    w = np.array([p.weight for p in plans])
    assert w[24] < w[26] < w[28] and w[19] < w[17]  # ramps after and before the gap
    assert w[50] == w[49] == 1.0                      # a cut: both shots at full strength
    assert w[len(w) - 1] == 1.0                       # the clip's end too
    assert w[3] < w[5] < w[7]                         # the face found after frames without


def test_no_face_stream(manip, rows):
    empty = {**rows, "valid": np.zeros_like(rows["valid"])}
    plans, planner = _plan(manip, empty, 8, {})
    assert all(p.passed == PassReason.NO_FACE for p in plans) and len(plans) == len(rows["valid"])
    assert planner.fit is None


def test_chunks_must_be_consecutive(manip, rows):
    style = label_style(manip, "happy", 0)
    planner = EditPlanner(manip, style, EditConfig.build(emotion="happy"), rows["size"],
                          rows["fps"])
    gen = _chunks(rows, 8)
    first = next(gen)
    next(gen)
    with pytest.raises(ValueError, match="expected 8"):
        list(planner.plans([first, next(gen)]))


@pytest.fixture(scope="module")
def late_grin(single_face_track):
    """single_face.mp4's rows reordered so that his grin starts after 2.4 s, past the
    fit's frames: its neutral start played forwards and back four times, then the grin."""
    t = single_face_track
    order = np.r_[0:18, 17:-1:-1, 0:18, 17:-1:-1, 18:72, 71:17:-1]
    n = len(order)
    return dict(valid=np.ones(n, bool), landmarks=t.landmarks[order].astype(np.float32),
                blendshapes=t.blendshapes[order].astype(np.float32),
                transforms=t.transforms[order].astype(np.float32),
                timestamps=np.arange(n) / t.fps, cut=np.zeros(n, bool),
                size=(t.width, t.height), fps=t.fps)


def _width(p):
    """Mouth width (corner to corner) over the inter-ocular distance of landmarks p."""
    from ned.topology import inter_ocular

    return float(np.linalg.norm(p[61, :2] - p[291, :2]) / inter_ocular(p))


def _grin_removed(plans, neutral, grin):
    """Share of the grin's widening of the mouth that the plans take back: 1 = the mouth as
    wide as in the neutral frames, 0 = as wide as the source's grin."""
    w_n = np.mean([_width(plans[i].src) for i in neutral])
    w_g = np.mean([_width(plans[i].src) for i in grin])
    w_e = np.mean([_width(plans[i].dst) for i in grin])
    return float((w_g - w_e) / (w_g - w_n))


@pytest.mark.slow
def test_a_grin_after_the_fit_is_removed_with_the_clips_own_offsets(manip, late_grin,
                                                                     monkeypatch):
    """A lowered group the fit's frames never show (his grin starts at frame 72, the fit
    uses its first 30 frames) is fitted on the frames that show it once LATE_FRAMES of them are
    seen, and removed with those offsets as one in the fit's frames would be: the mouth
    goes back to his own neutral width (0.95 of the grin's widening taken back, 0.72 with
    the FACS field alone; re-measured on the rendered clip, angry: mouthSmile 0.04 left of
    0.82, 0.50 with the field). The decision does not depend on how the rows arrive."""
    import ned.editing.plan as plan_mod

    plans, planner = _plan(manip, late_grin, 180, {}, emotion="angry")
    assert "mouthSmile" in planner._own and "mouthSmile" not in planner._watched
    grin, neutral = range(100, 180), range(0, 72)
    removed = _grin_removed(plans, neutral, grin)
    assert 0.85 < removed < 1.15   # his mouth back to its own neutral width
    again, _ = _plan(manip, late_grin, 7, {}, emotion="angry")
    for a, b in zip(plans, again):
        np.testing.assert_array_equal(a.dst, b.dst)
    # the neutral start is planned as before any grin was seen
    monkeypatch.setattr(plan_mod, "LATE_FRAMES", 10 ** 6)
    field, unwatched = _plan(manip, late_grin, 180, {}, emotion="angry")
    assert not unwatched._own
    assert _grin_removed(field, neutral, grin) < removed - 0.15
    for i in range(0, 40):
        np.testing.assert_array_equal(plans[i].dst, field[i].dst)


@pytest.mark.slow
def test_fold_repair_keeps_the_grin_removed_under_a_frown(manip, late_grin, monkeypatch):
    """Sad over his late grin: the corner depressor drawn over the removed grin folds the
    lip corners; the repair shrinks the depressor towards the removal, so more of the
    grin's widening stays taken back than when it shrinks towards the source (measured
    0.61 against 0.53 with the manipulator retrained for angry's glare, 0.61 against 0.47
    before it; re-measured mouthSmile on the rendered grin 0.09 against 0.67)."""
    import ned.editing.plan as plan_mod

    grin, neutral = range(100, 180), range(0, 72)
    plans, _ = _plan(manip, late_grin, 180, {}, emotion="sad")
    kept = _grin_removed(plans, neutral, grin)
    real = plan_mod.fold_free
    monkeypatch.setattr(plan_mod, "fold_free",
                        lambda solver, src, dst, iters=4, base=None: real(solver, src, dst))
    towards_source, _ = _plan(manip, late_grin, 180, {}, emotion="sad")
    assert kept > _grin_removed(towards_source, neutral, grin) + 0.05
    assert all(fold_fraction(p.dst, p.src) == 0 for p in plans if p.passed is None)
