"""Inference mechanics on a tiny untrained model: shapes, determinism, passthrough, errors."""

import re

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from ned.errors import NedError
from ned.manipulator.infer import (
    Target,
    geometric_median,
    label_style,
    load_manipulator,
    reference_style,
    translate,
)
from ned.manipulator.nets import NetConfig, build_nets
from ned.manipulator.train import TrainConfig, export_manipulator


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    cfg = TrainConfig(net=NetConfig(g_hidden=16, g_decoder=16, d_hidden=8, m_hidden=8))
    path = export_manipulator(build_nets(cfg.net), cfg, tmp_path_factory.mktemp("m") / "tiny")
    return load_manipulator(path)


def _clip(t=40, seed=0):
    return np.random.default_rng(seed).random((t, 52)).astype(np.float32) * 0.5


def test_weiszfeld_matches_brute_force():
    rng = np.random.default_rng(1)
    for k, d in ((7, 2), (30, 3), (50, 16)):
        pts = rng.normal(size=(k, d))
        pts[:3] += 5  # a few outliers: the median is not the mean
        cost = lambda y, pts=pts: np.linalg.norm(pts - y, axis=1).sum()  # noqa: E731
        brute = min((minimize(cost, x0, method="Nelder-Mead",
                              options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 40000})
                     for x0 in (pts.mean(0), np.median(pts, 0))), key=lambda r: r.fun)
        med = geometric_median(pts)
        assert cost(med) <= brute.fun + 1e-6
        if d == 2:  # grid search around the solution
            g = np.linspace(-0.05, 0.05, 101)
            grid = med + np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
            assert cost(med) <= min(cost(p) for p in grid) + 1e-9
    assert np.allclose(geometric_median(np.array([[1.0, 2.0]])), [1, 2])
    # start on a data point (the mean is one of the points)
    pts = np.array([[0.0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]])
    assert np.allclose(geometric_median(pts), 0, atol=1e-6)


def test_same_seed_same_output_bit_for_bit(tiny):
    x, v = _clip(), np.ones(40, bool)
    a = translate(tiny, x, v, emotion="sad", seed=3)
    b = translate(tiny, x, v, emotion="sad", seed=3)
    assert a.dtype == np.float32 and a.shape == x.shape
    assert np.array_equal(a, b)
    assert not np.array_equal(a, translate(tiny, x, v, emotion="sad", seed=4))
    assert np.array_equal(label_style(tiny, "sad", 3), label_style(tiny, "sad", 3))


def test_invalid_frames_pass_through_and_short_runs(tiny):
    x = _clip(50)
    v = np.ones(50, bool)
    v[[0, 20, 21, 22, 47]] = False
    y = translate(tiny, x, v, emotion="happy")
    assert np.array_equal(y[~v], x[~v])
    assert not np.allclose(y[v], x[v])
    # a run shorter than the window (frames 48-49) is still translated
    assert not np.allclose(y[48:], x[48:])


def test_intensity_zero_uses_own_style(tiny):
    x, v = _clip(), np.ones(40, bool)
    a = translate(tiny, x, v, emotion="happy", intensity=0.0)
    b = translate(tiny, x, v, emotion="angry", intensity=0.0)
    assert np.array_equal(a, b)  # target ignored at intensity 0


def test_targets_over_time_ranges(tiny):
    x, v = _clip(60), np.ones(60, bool)
    y = translate(tiny, x, v, targets=[Target(0, 30, emotion="sad"),
                                       Target(30, 60, emotion="happy", intensity=0.5)])
    sad = translate(tiny, x[:30], v[:30], emotion="sad")
    happy = translate(tiny, x[30:], v[30:], emotion="happy", intensity=0.5)
    assert np.allclose(y[:30], sad) and np.allclose(y[30:], happy)
    part = translate(tiny, x, v, targets=[Target(10, 20, emotion="fear")])
    assert np.array_equal(part[:10], x[:10]) and np.array_equal(part[20:], x[20:])


def test_reference_mode(tiny):
    x, v = _clip(), np.ones(40, bool)
    ref = _clip(30, seed=5)
    y = translate(tiny, x, v, reference=ref)
    assert y.shape == x.shape
    assert reference_style(tiny, ref).shape == (16,)


def test_errors(tiny):
    x, v = _clip(), np.ones(40, bool)
    with pytest.raises(NedError, match="unknown emotion"):
        translate(tiny, x, v, emotion="bored")
    with pytest.raises(NedError, match="intensity"):
        translate(tiny, x, v, emotion="happy", intensity=1.6)
    with pytest.raises(NedError, match="intensity"):
        translate(tiny, x, v, emotion="happy", intensity=-0.1)
    with pytest.raises(NedError, match="exactly one"):
        translate(tiny, x, v)
    with pytest.raises(NedError, match="no run of 10 valid"):
        translate(tiny, x, v, reference=_clip(30), reference_valid=np.zeros(30, bool))
    with pytest.raises(NedError, match="expects"):
        translate(tiny, x[:, :51], v, emotion="happy")
    with pytest.raises(NedError, match="valid has shape"):
        translate(tiny, x, v[:5], emotion="happy")
    with pytest.raises(NedError, match="range"):
        translate(tiny, x, v, targets=[Target(30, 50, emotion="sad")])
    bad = x.copy()
    bad[3, 3] = np.nan
    with pytest.raises(NedError, match="NaN"):
        translate(tiny, bad, v, emotion="sad")
    with pytest.raises(NedError, match="not found"):
        load_manipulator("/nonexistent/model")


# -- a checkpoint's config is checked (issue 17: "window": -3 was an internal error) --------
@pytest.mark.parametrize("change,message", [
    ({"window": -3}, '"window" must be an integer from 1'),
    ({"window": 0}, '"window" must be an integer from 1'),
    ({"window": "10"}, '"window" must be an integer from 1'),
    ({"names": ["a", "b"]}, '"names" has 2 names for 52 channels'),
    ({"names": "jawOpen"}, '"names" must be a list'),
    ({"names": "DUP"}, "twice"),
    ({"names": "RENAMED"}, "must be the 52 MediaPipe blendshapes"),
    ({"speech_channels": ["jawOpen", "nonsense"]}, "'nonsense' is not among"),
    ({"speech_channels": []}, "non-empty list"),
    ({"net": {"style_dim": -16}}, '"net.style_dim" must be a positive integer'),
    ({"net": {"colour": 3}}, 'unknown network setting "net.colour"'),
])
def test_bad_checkpoint_config_is_one_clear_error(tmp_path, change, message):
    import json
    import shutil

    from ned.manipulator.infer import default_path

    stem = tmp_path / "m"
    shutil.copy(default_path().with_suffix(".safetensors"), stem.with_suffix(".safetensors"))
    doc = json.loads(default_path().with_suffix(".json").read_text())
    meta = doc["meta"]
    for k, v in change.items():
        if k == "net":
            meta["net"] = {**meta["net"], **v}
        elif v == "DUP":
            meta["names"] = [*meta["names"][:-1], meta["names"][0]]
        elif v == "RENAMED":
            meta["names"] = [*meta["names"][:-1], "somethingElse"]
        else:
            meta[k] = v
    stem.with_suffix(".json").write_text(json.dumps(doc))
    with pytest.raises(NedError, match=re.escape(message)):
        load_manipulator(stem)
