"""The directed planner: a per-frame target (parts and controls) over the plain planner's
machinery. One emotion and no control plans what the plain planner plans; controls move
their features and keep the lips' motion; the gaze moves the irises."""

from __future__ import annotations

import numpy as np
import pytest

from ned.editing.config import EditConfig
from ned.editing.direct import DirectedPlanner, Direction
from ned.editing.geometry import pair_openings
from ned.editing.plan import EditPlanner, PlanConfig
from ned.editing.timeline import parse_segments
from ned.manipulator.infer import label_style
from tests.editing.test_plan import _chunks

PLAN = PlanConfig(fit_frames=30, block=16)


@pytest.fixture(scope="module")
def rows(single_face_track):
    t = single_face_track
    return dict(valid=t.valid.copy(), landmarks=t.landmarks.astype(np.float32),
                blendshapes=t.blendshapes.astype(np.float32),
                transforms=t.transforms.astype(np.float32), timestamps=t.timestamps,
                cut=np.zeros(t.n_frames, bool), size=(t.width, t.height), fps=t.fps)


def _plain(manip, rows, emotion, intensity=1.0):
    cfg = EditConfig.build(emotion=emotion, intensity=intensity)
    return EditPlanner(manip, label_style(manip, emotion, 0), cfg, rows["size"], rows["fps"],
                       PLAN)


def _directed(manip, rows, parts, direction, **options):
    cfg = EditConfig.build(**options)
    return DirectedPlanner(parts, direction, cfg, rows["size"], rows["fps"], PLAN, manip=manip)


@pytest.mark.slow
def test_one_emotion_without_controls_plans_as_the_plain_planner(manip, rows):
    ref = list(_plain(manip, rows, "angry").plans(_chunks(rows, 8)))
    planner = _directed(manip, rows, [_plain(manip, rows, "angry")], Direction.constant(()),
                        emotion="angry", adjust={"smile": 0.0001})
    got = list(planner.plans(_chunks(rows, 8)))
    assert len(got) == len(ref)
    for a, b in zip(ref, got):
        assert a.passed == b.passed and a.weight == pytest.approx(b.weight)
        np.testing.assert_allclose(a.dst, b.dst, atol=0.05)


def _face_up(lm):
    """(T, 2) unit 'up' vector of each frame's face (eye line rotated)."""
    x = lm[:, 263, :2] - lm[:, 33, :2]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return np.stack([x[:, 1], -x[:, 0]], 1)


SLOW = pytest.mark.slow


@pytest.mark.parametrize("control, points, sign", [
    ("smile", (61, 291), 1), pytest.param("smile", (61, 291), -1, marks=SLOW),
    ("brow_lower", (107, 336), -1), pytest.param("brow_raise_outer", (70, 300), 1, marks=SLOW),
    pytest.param("frown", (61, 291), -1, marks=SLOW)])
def test_a_control_moves_its_feature_and_keeps_the_lips_motion(manip, rows, control,
                                                                points, sign):
    value = 1.0 if control != "smile" else float(sign)
    want = sign if control != "smile" else sign
    planner = _directed(manip, rows, [], Direction.constant(((control, value),)),
                        adjust={control: value})
    plans = [p for p in planner.plans(_chunks(rows, 8)) if p.passed is None]
    src = np.stack([p.src for p in plans])
    dst = np.stack([p.dst for p in plans])
    up = _face_up(src)
    rise = ((dst[:, list(points), :2] - src[:, list(points), :2]) * up[:, None]).sum(-1)
    assert np.sign(np.median(rise)) == want
    iod = np.linalg.norm(src[:, 263, :2] - src[:, 33, :2], axis=1)
    assert np.median(np.abs(rise)) / np.median(iod) > 0.02
    # the lips' motion: the syllables' openings follow the source's
    o_src, o_dst = pair_openings(src)[:, 4], pair_openings(dst)[:, 4]
    assert np.corrcoef(o_src, o_dst)[0, 1] > 0.95


def test_gaze_moves_the_irises(manip, rows):
    planner = _directed(manip, rows, [], Direction.constant((("gaze_right", 1.0),)),
                        adjust={"gaze_right": 1.0})
    plans = [p for p in planner.plans(_chunks(rows, 8)) if p.passed is None]
    assert all(p.gaze is not None for p in plans)
    shift = np.stack([p.gaze for p in plans])                # (T, 2 eyes, 2)
    assert (shift[..., 0] > 0).all()                         # towards the image's right
    width = np.linalg.norm(plans[0].src[133, :2] - plans[0].src[33, :2])
    assert shift[0, 0, 0] == pytest.approx(0.25 * width, rel=0.1)
    assert np.allclose(plans[0].dst[468, :2] - plans[0].src[468, :2], shift[0, 0], atol=0.5)


@pytest.mark.slow
def test_timeline_parts_follow_their_weights(manip, rows):
    tl = parse_segments("0-1.2:happy,1.2-:sad")
    curves = tl.evaluate(rows["timestamps"], [], None)
    parts = [_plain(manip, rows, e, i) for e, i in curves.targets]
    planner = _directed(manip, rows, parts, Direction.from_curves(curves), timeline=tl)
    plans = list(planner.plans(_chunks(rows, 8)))
    assert all(p.passed is None for p in plans)
    happy = list(_plain(manip, rows, "happy").plans(_chunks(rows, 8)))
    sad = list(_plain(manip, rows, "sad").plans(_chunks(rows, 8)))
    early, late = 5, len(plans) - 5
    np.testing.assert_allclose(plans[early].dst, happy[early].dst, atol=0.05)
    np.testing.assert_allclose(plans[late].dst, sad[late].dst, atol=0.05)
