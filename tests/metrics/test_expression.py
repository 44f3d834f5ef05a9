"""ned.metrics.expression: known answers on generated landmarks (also on tilted, scaled,
moved heads), the syllable amplitude of a sine on a slow trend, group levels, bad inputs,
and the scores of the bundled clip against itself."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from ned import facs, topology
from ned.blendshapes import INDEX, N_BLENDSHAPES
from ned.errors import NedError
from ned.facegeom import (
    GEOMETRIC_MEASURES,
    LEFT_INNER_BROW,
    LIP_COLUMNS,
    RIGHT_INNER_BROW,
    face_coordinates,
    geometric_changes,
)
from ned.metrics.expression import (
    REACH_SHARE,
    ExpressionScores,
    expression_scores,
    group_levels,
    syllable_amplitude,
)

UPPER_OUTER = [topology.LIPS_OUTER[20 - i] for i in LIP_COLUMNS]
LOWER_OUTER = [topology.LIPS_OUTER[i] for i in LIP_COLUMNS]
BROWS = list(topology.RIGHT_EYEBROW + topology.LEFT_EYEBROW)
INNER_BROWS = list(RIGHT_INNER_BROW + LEFT_INNER_BROW)


def _face(rng_seed: int = 0) -> np.ndarray:
    """(478, 2) face-frame coordinates in IOD: eye centres at (-0.5, 0) and (0.5, 0)."""
    uv = np.random.default_rng(rng_seed).uniform(-1.0, 1.5, (topology.N_LANDMARKS, 2))
    uv[[topology.RIGHT_EYE_OUTER, topology.RIGHT_EYE_INNER]] = [[-0.8, 0.0], [-0.2, 0.0]]
    uv[[topology.LEFT_EYE_INNER, topology.LEFT_EYE_OUTER]] = [[0.2, 0.0], [0.8, 0.0]]
    return uv


def _pixels(uv: np.ndarray, angle_deg: float = 0.0, scale: float = 80.0,
            centre: tuple[float, float] = (320.0, 200.0)) -> np.ndarray:
    """(1, 478, 3) pixel landmarks: face coordinates scaled, rotated in the image, moved."""
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    xy = uv @ rot.T * scale + np.asarray(centre)
    return np.concatenate([xy, np.zeros((len(xy), 1))], 1)[None]


def _moved(uv: np.ndarray, points: list[int], du: float = 0.0, dv: float = 0.0) -> np.ndarray:
    out = uv.copy()
    out[points] += [du, dv]
    return out


#: moves (points, dv in IOD, + = down the face) -> the measures they give (others 0)
CASES = {
    "corners down 0.1": ([([61, 291], 0.1)], {"corners_down": 0.1, "corners_up": -0.1}),
    "corners up 0.07": ([([61, 291], -0.07)], {"corners_down": -0.07, "corners_up": 0.07}),
    "lips thinner 0.03": ([(UPPER_OUTER, 0.02), (LOWER_OUTER, -0.01)], {"lips_thinned": 0.03}),
    "upper lids up 0.03": ([([159, 386], -0.03)], {"upper_lid_up": 0.03}),
    "brows down 0.05": ([(BROWS, 0.05)], {"brow_down": 0.05, "inner_brow_up": -0.05,
                                          "inner_brow_down": 0.05}),
    "inner brows up 0.04": ([(INNER_BROWS, -0.04)],
                            {"inner_brow_up": 0.04, "inner_brow_down": -0.04,
                             "brow_down": -0.04 * 4 / 10}),
}


@pytest.mark.parametrize("angle", [0.0, 25.0, -40.0])
@pytest.mark.parametrize("case", list(CASES))
def test_known_moves_give_their_measure(case, angle):
    moves, expected = CASES[case]
    src = _face()
    edt = src
    for points, dv in moves:
        edt = _moved(edt, points, dv=dv)
    got = geometric_changes(_pixels(src, angle), _pixels(edt, angle, centre=(300.0, 220.0)))
    assert list(got) == list(GEOMETRIC_MEASURES)
    for m in GEOMETRIC_MEASURES:
        assert got[m].shape == (1,)
        assert got[m][0] == pytest.approx(expected.get(m, 0.0), abs=1e-9), m


def test_head_moved_rotated_scaled_changes_nothing():
    uv = _face(3)
    src = np.concatenate([_pixels(uv, 0.0), _pixels(uv, 10.0, 60.0)])
    edt = np.concatenate([_pixels(uv, 35.0, 120.0, (100.0, 90.0)), _pixels(uv, -20.0, 45.0)])
    for m, v in geometric_changes(src, edt).items():
        np.testing.assert_allclose(v, 0.0, atol=1e-9, err_msg=m)


def test_face_coordinates_undo_the_tilt():
    uv = _face(1)
    for angle in (0.0, 30.0, -75.0):
        got = face_coordinates(_pixels(uv, angle, scale=57.0))
        np.testing.assert_allclose(got[0], uv, atol=1e-9)


def test_upright_real_face_points_where_expected(single_face_track):
    v = face_coordinates(single_face_track.landmarks[:1])[0, :, 1]
    assert v[topology.NOSE_TIP] > 0 and v[topology.MOUTH_CORNER_LEFT] > v[topology.NOSE_TIP]
    assert v[BROWS].max() < 0  # brows above the eye line
    iod = topology.inter_ocular(single_face_track.landmarks[:1])[0]
    assert 40 < iod < 120


def test_group_levels_are_channel_means():
    t = 4
    b = np.zeros((t, N_BLENDSHAPES))
    b[:, INDEX["browDownLeft"]] = 0.2
    b[:, INDEX["browDownRight"]] = np.linspace(0.0, 0.6, t)
    b[:, INDEX["browInnerUp"]] = 0.5
    levels = group_levels(b)
    assert list(levels) == list(facs.GROUPS)
    np.testing.assert_allclose(levels["browDown"], 0.5 * (0.2 + np.linspace(0.0, 0.6, t)))
    np.testing.assert_allclose(levels["browInnerUp"], 0.5)
    np.testing.assert_allclose(levels["mouthSmile"], 0.0)
    assert all(v.shape == (t,) for v in levels.values())


def _attenuation(f: float, fps: float, w: int) -> float:
    """Gain of a centred w-frame moving average on a sampled sine of f Hz."""
    om = 2 * np.pi * f / fps
    return np.sin(om * w / 2) / (w * np.sin(om / 2))


@pytest.mark.parametrize("fps,w", [(25.0, 13), (30.0, 15)])
def test_syllable_amplitude_of_a_sine_on_a_slow_trend(fps, w):
    t = np.arange(int(10 * fps)) / fps
    amp, f = 0.05, 3.0
    x = 0.3 + 0.04 * t - 0.003 * t ** 2 + amp * np.sin(2 * np.pi * f * t)
    # a centred average removes the linear trend exactly and turns the quadratic one
    # into a constant; the sine keeps (1 - its gain)
    expected = amp * abs(1 - _attenuation(f, fps, w)) / np.sqrt(2)
    assert syllable_amplitude(x, fps) == pytest.approx(expected, rel=0.02)
    # the trend alone moves nothing
    assert syllable_amplitude(0.3 + 0.04 * t - 0.003 * t ** 2, fps) == pytest.approx(0.0,
                                                                                  abs=1e-9)
    # doubled speech, double amplitude; frames without a face are skipped
    assert syllable_amplitude(2 * x, fps) == pytest.approx(2 * syllable_amplitude(x, fps))
    holed = x.copy()
    holed[100:110] = np.nan
    assert syllable_amplitude(holed, fps) == pytest.approx(expected, rel=0.03)


def test_syllable_amplitude_short_or_bad():
    assert np.isnan(syllable_amplitude(np.arange(10.0), 25.0))  # shorter than the window
    with pytest.raises(NedError, match=r"\(T,\)"):
        syllable_amplitude(np.zeros((10, 2)), 25.0)
    with pytest.raises(NedError, match="fps"):
        syllable_amplitude(np.zeros(50), 0.0)


def test_bad_shapes_are_errors():
    lm = _pixels(_face())
    with pytest.raises(NedError, match=r"\(T, 52\)"):
        group_levels(np.zeros((3, 51)))
    with pytest.raises(NedError, match=r"\(T, 52\)"):
        group_levels(np.zeros(52))
    with pytest.raises(NedError, match="478"):
        geometric_changes(lm[:, :468], lm[:, :468])
    with pytest.raises(NedError, match="478"):
        face_coordinates(lm[0])
    with pytest.raises(NedError, match="differ in length"):
        geometric_changes(lm, np.concatenate([lm, lm]))
    flat = lm.copy()
    flat[0, :, :2] = 5.0  # every point in one place: no eye line
    with pytest.raises(NedError, match="eye"):
        face_coordinates(flat)


def test_clip_against_itself(single_face_track):
    tr = single_face_track
    for target in ("angry", "happy", "neutral", "sad"):
        s = expression_scores(tr, tr, target)
        assert s.frames == int(tr.valid.sum()) and s.target == target
        assert list(s.groups) == list(facs.GROUPS)
        assert list(s.geometric) == list(GEOMETRIC_MEASURES)
        for g, sc in s.groups.items():
            assert sc.source == sc.edited
            assert sc.target == facs.emotion_groups(target)[g]
            assert sc.targeted == (g in facs.TARGETS[target])
            if sc.targeted:
                assert sc.reached == (sc.edited >= REACH_SHARE * sc.target)
                assert sc.floor == facs.FLOORS[target].get(g)
            else:
                assert sc.reached is None and sc.shown is None
            ceiling = facs.CEILINGS.get(target, {}).get(g)
            assert sc.ceiling == ceiling
            assert sc.within_ceiling == (None if ceiling is None else sc.edited <= ceiling)
        for m, gs in s.geometric.items():
            assert gs.change == 0.0, m
        assert s.targeted == tuple(g for g in facs.GROUPS if g in facs.TARGETS[target])
    # single_face smiles: a happy target is already met, an angry one exceeds the ceiling
    assert expression_scores(tr, tr, "happy").groups["mouthSmile"].reached
    angry = expression_scores(tr, tr, "angry")
    assert angry.groups["mouthSmile"].within_ceiling is False and angry.passed is False
    assert angry.geometric["lips_thinned"].floor == facs.GEOMETRIC_FLOORS["mouthPress"][1]
    assert angry.geometric["corners_down"].floor is None  # mouthFrown is not angry's


def test_geometric_floor_shows_a_group_the_analyser_cannot(single_face_track):
    """Corners moved 0.06 IOD down the face in every frame: mouthFrown is not reached by its
    (dead) blendshape, but shown by the geometric measure at its floor (0.05)."""
    tr = single_face_track
    lm = tr.landmarks.astype(np.float64).copy()
    r, l = topology.eye_centres(lm[..., :2])
    ex = (l - r) / np.linalg.norm(l - r, axis=-1, keepdims=True)
    down = np.stack([-ex[:, 1], ex[:, 0]], -1) * topology.inter_ocular(lm)[:, None]
    for k in (topology.MOUTH_CORNER_RIGHT, topology.MOUTH_CORNER_LEFT):
        lm[:, k, :2] += 0.06 * down
    edt = dataclasses.replace(tr, landmarks=lm.astype(np.float32))
    s = expression_scores(tr, edt, "sad")
    g = s.geometric["corners_down"]
    assert g.change == pytest.approx(0.06, abs=1e-4) and g.group == "mouthFrown"
    assert g.floor == facs.GEOMETRIC_FLOORS["mouthFrown"][1] and g.reached
    frown = s.groups["mouthFrown"]
    assert frown.reached is False and frown.geometric == "corners_down" and frown.shown
    assert s.geometric["corners_up"].change == pytest.approx(-0.06, abs=1e-4)
    assert abs(s.geometric["brow_down"].change) < 1e-6


def test_to_json_round_trip(single_face_track):
    s = expression_scores(single_face_track, single_face_track, "fear")
    data = json.loads(json.dumps(s.to_json(), allow_nan=False))
    assert list(data) == ["target", "frames", "groups", "geometric", "passed"]
    assert ExpressionScores.from_json(data) == s
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.frames = 0


def test_bad_tracks_and_target(single_face_track, carphone_track):
    with pytest.raises(NedError, match="unknown target"):
        expression_scores(single_face_track, single_face_track, "bored")
    with pytest.raises(NedError, match="differ in length"):
        expression_scores(single_face_track, carphone_track, "sad")
    none = dataclasses.replace(single_face_track,
                               valid=np.zeros(single_face_track.n_frames, bool))
    s = expression_scores(single_face_track, none, "sad")
    assert s.frames == 0 and s.passed is None
    assert all(g.edited is None and g.shown is None for g in s.groups.values())
    assert all(g.change is None and g.reached is None for g in s.geometric.values())
