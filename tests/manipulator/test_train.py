"""Tiny-config training smoke test: the full loop, stats log, checkpoints, resume, export."""

import json

import numpy as np
import pytest
import torch

from ned.errors import NedError
from ned.manipulator.data import SequenceDataset
from ned.manipulator.infer import load_manipulator, translate
from ned.manipulator.losses import LossWeights
from ned.manipulator.nets import NetConfig
from ned.manipulator.synthetic import SyntheticEmotionData, synthetic_batch
from ned.manipulator.train import TrainConfig, export_manipulator, train_manipulator

TINY = NetConfig(g_hidden=16, g_decoder=16, d_hidden=8, m_hidden=8, residual=True)


def _sampler(speech_tracks):
    data = SyntheticEmotionData([speech_tracks["carphone"]["blendshapes"]])
    return lambda rng, b: synthetic_batch(data, rng, b)


def test_tiny_training_resume_and_export(tmp_path, speech_tracks):
    torch.set_num_threads(1)
    cfg = TrainConfig(net=TINY, iters=6, decay_iters=3, batch=4, log_every=2, ckpt_every=3,
                      weights=LossWeights(paired=10.0))
    sampler = _sampler(speech_tracks)
    full = train_manipulator(tmp_path / "a", cfg, sampler, progress=False)
    stats = [json.loads(s) for s in (tmp_path / "a" / "stats.jsonl").read_text().splitlines()]
    assert [s["step"] for s in stats] == [2, 4, 6]
    assert all(np.isfinite(v) for s in stats for v in s.values())
    assert stats[-1]["lr"] < cfg.lr  # linear decay
    assert json.loads((tmp_path / "a" / "config.json").read_text())["iters"] == 6
    # stop after the first checkpoint, then resume: same weights as the uninterrupted run
    short = TrainConfig(**{**cfg.__dict__, "iters": 6})
    train_manipulator(tmp_path / "b", short, sampler, progress=False, max_seconds=0.0)
    meta = json.loads((tmp_path / "b" / "last.json").read_text())["meta"]
    assert meta["step"] == 1
    resumed = train_manipulator(tmp_path / "b", short, sampler, progress=False, resume=True)
    for p, q in zip(full.G.parameters(), resumed.G.parameters()):
        assert torch.allclose(p, q, atol=1e-6)
    path = export_manipulator(resumed, cfg, tmp_path / "m.safetensors")
    manip = load_manipulator(path)
    x = speech_tracks["carphone"]["blendshapes"]
    y = translate(manip, x, np.ones(len(x), bool), emotion="happy")
    assert y.shape == x.shape and np.isfinite(y).all()


def test_training_on_a_labelled_dataset(tmp_path, speech_tracks):
    x = speech_tracks["carphone"]["blendshapes"]
    items = [(x, np.ones(len(x), bool), np.full(len(x), k)) for k in (0, 4)]
    ds = SequenceDataset.from_arrays(items)
    cfg = TrainConfig(net=TINY, iters=2, decay_iters=1, batch=3, log_every=1)
    train_manipulator(tmp_path / "r", cfg, ds.sample, progress=False)
    assert (tmp_path / "r" / "final.safetensors").exists()


def test_bad_config(tmp_path, speech_tracks):
    cfg = TrainConfig(net=TINY, names=("a", "b"))
    with pytest.raises(NedError, match="channel names"):
        train_manipulator(tmp_path, cfg, _sampler(speech_tracks), progress=False)


def test_paired_l1_weights_the_speech_channels():
    from ned.manipulator.losses import paired_l1

    fake, target = torch.zeros(2, 10, 4), torch.ones(2, 10, 4)
    assert paired_l1(fake, target, [1], LossWeights(paired_speech=1.0)).item() == 1.0
    assert paired_l1(fake, target, [1, 3], LossWeights(paired_speech=3.0)).item() == \
        pytest.approx((1 + 3 + 1 + 3) / 4)


def test_label_and_reference_targets_are_used(tmp_path, speech_tracks):
    """The warm-up fits the latent style to x_lab and the reference style to x_trg."""
    from ned.manipulator.train import warmup_step

    torch.manual_seed(0)
    from ned.manipulator.nets import build_nets
    from ned.manipulator.speech import speech_indices

    cfg = TrainConfig(net=TINY, weights=LossWeights(paired=1.0, paired_speech=1.0))
    nets = build_nets(TINY)
    opts = {k: torch.optim.Adam(m.parameters(), lr=0.0) for k, m in nets.modules().items()}
    b = _sampler(speech_tracks)(np.random.default_rng(0), 4)
    t = {k: torch.from_numpy(v) for k, v in b.items()}
    idx = speech_indices(cfg.names, cfg.speech_channels)
    gen = torch.Generator().manual_seed(1)
    st = warmup_step(nets, opts, t, cfg, idx, gen)
    z = torch.randn(4, TINY.latent_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        lat = (nets.G(t["x"], nets.M(z, t["y_trg"])) - t["x_lab"]).abs().mean().item()
        ref = (nets.G(t["x"], nets.E(t["x_ref"])) - t["x_trg"]).abs().mean().item()
    assert st["W_paired_lat"] == pytest.approx(lat, rel=1e-5)
    assert st["W_paired_ref"] == pytest.approx(ref, rel=1e-5)
