"""The NumPy inference networks compute what the PyTorch training networks compute."""

import json

import numpy as np
import pytest
import torch

from ned.errors import NedError
from ned.manipulator.infer import default_path, label_style, load_manipulator
from ned.manipulator.nets import Generator, MappingNetwork, NetConfig, StyleEncoder, build_nets
from ned.manipulator.numpy_nets import _lstm, bilstm
from ned.manipulator.train import TrainConfig, export_manipulator
from ned.training import load_checkpoint


def _torch_modules(path, net):
    mods = {"G": Generator(net), "E": StyleEncoder(net), "M": MappingNetwork(net)}
    load_checkpoint(path, mods)
    return {k: m.eval() for k, m in mods.items()}


@pytest.mark.parametrize("residual", [False, True])
def test_random_nets_match_torch(tmp_path, residual):
    torch.manual_seed(1)
    net = NetConfig(g_hidden=24, g_decoder=20, d_hidden=12, m_hidden=8, residual=residual)
    path = export_manipulator(build_nets(net), TrainConfig(net=net), tmp_path / "m")
    manip, mods = load_manipulator(path), _torch_modules(path, net)
    rng = np.random.default_rng(0)
    x = rng.random((5, 10, 52)).astype(np.float32)
    s = rng.normal(size=(5, 16)).astype(np.float32)
    z = rng.normal(size=(3, 4)).astype(np.float32)
    y = np.array([0, 6, 3])
    with torch.no_grad():
        g = mods["G"](torch.from_numpy(x), torch.from_numpy(s)).numpy()
        e = mods["E"](torch.from_numpy(x)).numpy()
        m = mods["M"](torch.from_numpy(z), torch.from_numpy(y)).numpy()
    assert manip.G(x, s).shape == (5, 10, 52) and manip.E(x).shape == (5, 16)
    assert np.abs(manip.G(x, s) - g).max() < 1e-5
    assert np.abs(manip.E(x) - e).max() < 1e-5
    assert np.abs(manip.M(z, y) - m).max() < 1e-5


def test_shipped_default_matches_torch():
    manip = load_manipulator()
    mods = _torch_modules(default_path(), manip.net)
    rng = np.random.default_rng(2)
    x = (rng.random((64, 10, 52)) * 0.6).astype(np.float32)
    s = label_style(manip, "happy")[None].repeat(64, 0)
    with torch.no_grad():
        g = mods["G"](torch.from_numpy(x), torch.from_numpy(s)).numpy()
        e = mods["E"](torch.from_numpy(x)).numpy()
    assert np.abs(manip.G(x, s) - g).max() < 1e-4
    assert np.abs(manip.E(x) - e).max() < 1e-4
    # the seeded label styles are those the torch networks give
    from ned.blendshapes import EMOTIONS

    for seed, emo in ((0, "happy"), (3, "sad"), (11, "fear")):
        z = torch.randn(1, manip.net.latent_dim, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            ref = mods["M"](z, torch.tensor([EMOTIONS.index(emo)]))[0].numpy()
        assert np.abs(label_style(manip, emo, seed) - ref).max() < 1e-5


def test_lstm_reverse_direction_reads_the_future():
    """Known answer: with only the backward direction's input weights non-zero, the first
    step's output depends on the last input, and the forward half never sees the future."""
    h, n_in = 3, 2
    t = {}
    for sfx in ("", "_reverse"):
        t[f"l.weight_ih_l0{sfx}"] = np.zeros((4 * h, n_in), np.float32)
        t[f"l.weight_hh_l0{sfx}"] = np.zeros((4 * h, h), np.float32)
        t[f"l.bias_ih_l0{sfx}"] = np.zeros(4 * h, np.float32)
        t[f"l.bias_hh_l0{sfx}"] = np.zeros(4 * h, np.float32)
    t["l.weight_ih_l0_reverse"][2 * h:3 * h] = 1.0   # torch's cell-input gate g
    t["l.weight_ih_l0"][2 * h:3 * h] = 1.0
    x = np.zeros((1, 4, n_in), np.float32)
    x[0, -1] = 1.0                                   # only the last step has input
    out = bilstm(x, _lstm(t, "l"))
    fwd, bwd = out[0, :, :h], out[0, :, h:]
    # c = sigmoid(0) * tanh(2) = 0.5 tanh 2 at the input; h = sigmoid(0) tanh(c); then
    # c decays by the forget gate 0.5 per step
    c = 0.5 * np.tanh(2.0)
    assert np.allclose(fwd[:3], 0) and np.allclose(fwd[3], 0.5 * np.tanh(c))
    assert np.allclose(bwd[:, 0], [0.5 * np.tanh(c / 8), 0.5 * np.tanh(c / 4),
                                   0.5 * np.tanh(c / 2), 0.5 * np.tanh(c)], atol=1e-6)


def test_weights_that_do_not_fit(tmp_path):
    torch.manual_seed(0)
    net = NetConfig(g_hidden=16, g_decoder=16, d_hidden=8, m_hidden=8)
    path = export_manipulator(build_nets(net), TrainConfig(net=net), tmp_path / "m")
    js = path.with_suffix(".json")
    doc = json.loads(js.read_text())
    doc["meta"]["net"]["exp_dim"] = 51        # 52-channel weights under a 51-channel config
    doc["meta"]["names"] = doc["meta"]["names"][:51]
    js.write_text(json.dumps(doc))
    with pytest.raises(NedError, match="do not fit"):
        load_manipulator(path)


def test_seeded_latent_equals_torch_randn():
    from ned.manipulator.numpy_nets import seeded_normal

    for seed in [*range(60), 2**31 + 5, 2**32 - 1, -3]:
        for n in (1, 4, 5, 15):
            t = torch.randn(n, generator=torch.Generator().manual_seed(seed % 2**64)).numpy()
            assert np.array_equal(seeded_normal(seed, n), t), (seed, n)
    big = seeded_normal(3, 32)
    assert big.shape == (32,) and big.dtype == np.float32 and abs(big.mean()) < 1
