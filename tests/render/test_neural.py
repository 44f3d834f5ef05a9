"""Neural renderer: networks, data, losses, inference, checkpoints (fast, CPU)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from ned.errors import NedError
from ned.render.neural.checkpoint import read_renderer, save_renderer
from ned.render.neural.conditioning import fallback_warp, landmark_conditions
from ned.render.neural.config import FACE_CHANNELS, RendererConfig, TrainConfig, preset
from ned.render.neural.data import SequenceSampler, history, to_unit
from ned.render.neural.evaluate import fapd
from ned.render.neural.infer import NeuralRenderer
from ned.render.neural.losses import (
    VGG19_CONVS,
    feature_matching,
    load_vgg19,
    lsgan,
    masked_l1,
    mouth_crops,
)
from ned.render.neural.nets import build_nets, n_params
from ned.render.neural.train import compute_grads, unroll

TC = TrainConfig(steps=2, batch_size=2, seq_len=3, augment=False)


def _sampler(clip, cfg, tcfg=TC, seed=0):
    return SequenceSampler([clip], cfg, tcfg, torch.Generator().manual_seed(seed),
                           fallback_warp if cfg.use_warp else None)


# shape / size
def test_paper_generator_has_reference_size():
    nets = build_nets(preset("paper"))
    assert 65e6 < n_params(nets["G"]) < 75e6          # reference: about 70M
    assert preset("paper").cond_channels == 3 * 12   # 3 frames x (NMFC, shape, eyes, warp)
    assert preset("paper", use_warp=False).cond_channels == 27


def test_generator_output_is_limited_to_the_mask(micro_cfg):
    torch.manual_seed(0)
    g = build_nets(micro_cfg)["G"]
    s = micro_cfg.size
    mask = torch.zeros(2, 1, s, s)
    mask[:, :, 8:24, 8:24] = 1
    out = g(torch.randn(2, micro_cfg.cond_channels, s, s), torch.randn(2, 6, s, s), mask)
    assert out.shape == (2, 3, s, s)
    assert torch.all(out[mask.expand_as(out) == 0] == -1)
    assert out[:, :, 8:24, 8:24].std() > 0


def test_warp_blend_can_pass_the_warp_through(micro_cfg):
    """With the blend weight saturated at 1 the output is the current frame's warp."""
    torch.manual_seed(0)
    g = build_nets(micro_cfg)["G"]
    with torch.no_grad():
        g.dec[-1].bias[3] = 50.0
    s = micro_cfg.size
    cond = torch.rand(1, micro_cfg.cond_channels, s, s) * 2 - 1
    out = g(cond, torch.zeros(1, 6, s, s), torch.ones(1, 1, s, s))
    torch.testing.assert_close(out, cond[:, 9:12], atol=1e-4, rtol=0)
    plain = build_nets(dataclasses.replace(micro_cfg, warp_blend=False))["G"]
    assert plain.dec[-1].out_channels == 3 and g.dec[-1].out_channels == 4


def test_config_errors():
    with pytest.raises(NedError, match="divisible"):
        RendererConfig(size=100)
    with pytest.raises(NedError, match="unknown renderer preset"):
        preset("huge")


# data
def test_sampler_batch_shapes_and_ranges(neural_clip32, micro_cfg):
    b = _sampler(neural_clip32, micro_cfg).sample(2)
    s = micro_cfg.size
    assert b["cond"].shape == (2, 3, micro_cfg.cond_channels, s, s)
    assert b["real"].shape == (2, 3, 3, s, s) and b["mask"].shape == (2, 3, 1, s, s)
    assert b["prev"].shape == (2, 6, s, s) and b["mouth"].shape == (2, 3, 2)
    assert b["cond"].min() >= -1 and b["cond"].max() <= 1
    # outside the mask the target is black
    assert torch.all(b["real"][b["mask"].expand_as(b["real"]) == 0] == -1)


def test_warp_conditioning_never_shows_the_target_frame(neural_clip32, micro_cfg):
    """In self-reenactment the warp channels come from another frame of the actor."""
    clip = neural_clip32
    sam = _sampler(clip, micro_cfg, seed=3)
    train, _ = clip.split(TC.val_fraction)
    for _ in range(5):
        item = sam.sample_one()
        cur_warp = item["cond"][:, 9:12]                    # warp of the current frames
        real = item["real"]
        m = item["mask"].expand_as(real) > 0.5
        assert (cur_warp - real).abs()[m].mean() > 1e-3     # not the frame itself
    # the reference drawn for a window is never inside it, and lies in the training part
    for _ in range(20):
        r = sam._reference(0, [10, 11, 12])
        assert r not in (10, 11, 12) and r in train


def test_history_pads_by_repetition():
    assert history(5, 0, 3) == [5, 4, 3]
    assert history(1, 0, 3) == [1, 0, 0]
    assert history(0, 0, 3) == [0, 0, 0]


def test_too_few_valid_frames_is_a_clear_error(neural_clip32, micro_cfg):
    clip = dataclasses.replace(neural_clip32, valid=np.zeros(len(neural_clip32), bool))
    clip.valid[:2] = True
    with pytest.raises(NedError, match="too few valid frames"):
        _sampler(clip, micro_cfg)


def test_landmark_conditions_layout(neural_clip32):
    clip = neural_clip32
    cond, mask = landmark_conditions(np.asarray(clip.points[0], np.float64), 32)
    assert cond.shape == (32, 32, FACE_CHANNELS) and cond.dtype == np.uint8
    assert mask.shape == (32, 32) and mask.max() == 255
    inside = mask > 127
    assert cond[..., :3][inside].mean() > 50 and cond[..., :3][~inside].mean() < 20
    eyes = cond[..., 6:9]
    assert eyes[..., 0].max() == 255 and eyes[..., 1:].max() == 0   # red disks only


def test_fallback_warp_identity_and_shift(neural_clip32):
    img, pts = neural_clip32.images[10], np.asarray(neural_clip32.points[10], np.float64)
    np.testing.assert_array_equal(fallback_warp(img, pts, pts), img)
    moved = pts.copy()
    moved[:, 0] += 2.0
    out = fallback_warp(img, pts, moved)
    m = neural_clip32.masks[10] > 250
    m[:, :4] = False
    shifted = np.roll(img, 2, axis=1)
    assert np.abs(out.astype(int) - shifted)[m].mean() < np.abs(
        out.astype(int) - img)[m].mean()


# losses
def test_loss_values():
    ones = [[torch.ones(2, 1, 4, 4)], [torch.ones(2, 1, 2, 2)]]
    assert float(lsgan(ones, True)) == 0.0 and float(lsgan(ones, False)) == 1.0
    feats = [[torch.ones(1, 2, 3, 3), torch.zeros(1, 1, 2, 2)]]
    other = [[torch.zeros(1, 2, 3, 3), torch.zeros(1, 1, 2, 2)]]
    assert float(feature_matching(feats, other)) == pytest.approx(4.0)
    a, b = torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4)
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :2, :2] = 1
    assert float(masked_l1(a, b, mask)) == pytest.approx(1.0)


def test_mouth_crop_stays_inside():
    x = torch.arange(16 * 16).float().view(1, 1, 16, 16)
    c = mouth_crops(x, torch.tensor([[15.0, 0.0]]), 6)
    assert c.shape == (1, 1, 6, 6)
    assert float(c[0, 0, 0, -1]) == float(x[0, 0, 0, 15])


def _vgg_standin(path, widths=(4, 4, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8)):
    g = torch.Generator().manual_seed(0)
    state, c_in = {}, 3
    for idx, w in zip(VGG19_CONVS, widths):
        state[f"features.{idx}.weight"] = torch.randn(w, c_in, 3, 3, generator=g) * 0.3
        state[f"features.{idx}.bias"] = torch.zeros(w)
        c_in = w
    save_file(state, str(path))
    return path


def test_vgg_loss_from_user_file(tmp_path):
    vgg = load_vgg19(str(_vgg_standin(tmp_path / "vgg19.safetensors")))
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert len(vgg(x)) == 5
    assert float(vgg.loss(x, x)) == 0.0
    assert float(vgg.loss(x, -x)) > 0.0


def test_vgg_missing_or_wrong_file(tmp_path):
    with pytest.raises(NedError, match="not found"):
        load_vgg19(str(tmp_path / "none.pth"))
    save_file({"x": torch.zeros(2)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(NedError, match="VGG19"):
        load_vgg19(str(tmp_path / "bad.safetensors"))


def test_vgg_loss_in_training_step(tmp_path, neural_clip32, micro_cfg):
    tc = dataclasses.replace(TC, vgg_path=str(_vgg_standin(tmp_path / "v.safetensors")))
    torch.manual_seed(0)
    nets = build_nets(micro_cfg)
    batch = _sampler(neural_clip32, micro_cfg).sample(2)
    stats, _ = compute_grads(nets, batch, micro_cfg, tc, vgg=load_vgg19(tc.vgg_path))
    assert stats["g_vgg"] > 0


# training step
def test_compute_grads_and_amp_path(neural_clip32, micro_cfg):
    torch.manual_seed(0)
    nets = build_nets(micro_cfg)
    batch = _sampler(neural_clip32, micro_cfg).sample(2)
    for amp in (False, True):                       # amp on the CPU: bfloat16 autocast
        for n in nets.values():
            n.zero_grad(set_to_none=True)
        stats, fake = compute_grads(nets, batch, micro_cfg, TC, amp=amp)
        assert fake.shape == batch["real"].shape
        assert all(np.isfinite(v) for v in stats.values())
        for k in ("G", "D", "Dm"):
            grads = [p.grad for p in nets[k].parameters()]
            assert all(g is not None and torch.isfinite(g).all() for g in grads)


# inference
def test_streaming_renderer_matches_training_unroll(tmp_path, neural_clip32, micro_cfg):
    """step() from a fresh history equals the training unroll from blank history."""
    clip = neural_clip32
    torch.manual_seed(1)
    nets = build_nets(micro_cfg)
    path = save_renderer(tmp_path / "a.safetensors", nets, micro_cfg, mode="actor")
    r = NeuralRenderer.load(path, device="cpu")
    ref, frames = 40, [0, 1, 2, 3]
    warps = [fallback_warp(clip.images[ref], clip.points[ref], clip.points[t]) for t in frames]
    outs = [r.step(clip.conditions[t], clip.masks[t], warps[t])[0] for t in frames]
    assert all(o.shape == (32, 32, 3) and o.dtype == np.uint8 for o in outs)
    per = [np.concatenate([clip.conditions[t], warps[t]], -1) for t in frames]
    cond = torch.stack([torch.cat([to_unit(per[i]) for i in history(t, 0, 3)], 0)
                        for t in frames])[None]
    mask = torch.from_numpy(clip.masks[frames].astype(np.float32) / 255)[None, :, None]
    with torch.no_grad():
        fake = unroll(nets["G"].eval(), cond, torch.full((1, 6, 32, 32), -1.0), mask)
    expect = ((fake[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    assert np.abs(np.stack(outs).astype(int) - expect).max() <= 1


def test_renderer_input_errors(tmp_path, micro_cfg):
    path = save_renderer(tmp_path / "a.safetensors", build_nets(micro_cfg), micro_cfg)
    r = NeuralRenderer.load(path, device="cpu")
    with pytest.raises(NedError, match="conditions"):
        r.step(np.zeros((64, 64, 9), np.uint8), np.zeros((32, 32), np.uint8))
    with pytest.raises(NedError, match="warp"):
        r.step(np.zeros((32, 32, 9), np.uint8), np.zeros((32, 32), np.uint8))


def test_checkpoint_roundtrip_and_wrong_files(tmp_path, micro_cfg):
    nets = build_nets(micro_cfg)
    path = save_renderer(tmp_path / "a.safetensors", nets, micro_cfg, steps=3)
    cfg, info, tensors = read_renderer(path)
    assert cfg == micro_cfg and info["steps"] == 3
    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(NedError, match="not a ned neural renderer"):
        NeuralRenderer.load(tmp_path / "other.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(NedError, match="not a safetensors"):
        NeuralRenderer.load(tmp_path / "junk.safetensors")
    with pytest.raises(NedError, match="not found"):
        NeuralRenderer.load(tmp_path / "none.safetensors")
    # a file whose weights are of another architecture than its header says
    wide = dataclasses.replace(micro_cfg, ngf=12)
    save_renderer(tmp_path / "lie.safetensors", build_nets(wide), micro_cfg)
    with pytest.raises(NedError, match="weights of G do not fit"):
        NeuralRenderer.load(tmp_path / "lie.safetensors")


# metric
def test_fapd_counts_only_face_pixels():
    real = np.zeros((2, 4, 4, 3), np.uint8)
    fake = real.copy()
    fake[..., 0] = 3
    fake[..., 1] = 4                      # distance 5 everywhere ...
    fake[:, 0, 0] = 255                   # ... but a huge error outside the face
    masks = np.full((2, 4, 4), 255, np.uint8)
    masks[:, 0, 0] = 0
    assert fapd(fake, real, masks) == pytest.approx(5.0)


def test_sequence_length_curriculum(neural_clip32, micro_cfg):
    tc = dataclasses.replace(TC, seq_len=2, seq_len_double_every=10, seq_len_max=200)
    assert [tc.seq_len_at(s) for s in (0, 9, 10, 25, 10_000)] == [2, 2, 4, 8, 200]
    sam = _sampler(neural_clip32, micro_cfg, tc)
    assert sam.sample(1, 8)["real"].shape[1] == 8
    n_train = len(neural_clip32.split(tc.val_fraction)[0])
    assert sam.sample(1, 200)["real"].shape[1] == n_train   # capped by the clip


@pytest.mark.slow  # 1.5-2 s; the module keeps fast tests of its kind
def test_prepared_clip_store_is_reused(tmp_path, single_face_path, neural_clip32, monkeypatch):
    from ned.render.neural import prepare

    clip = prepare.prepare_clip(single_face_path, 32, store=tmp_path / "s")
    np.testing.assert_array_equal(clip.images, neural_clip32.images)

    def no_analysis(*a, **k):
        raise AssertionError("analysed again")

    monkeypatch.setattr("ned.analysis.analyze", no_analysis)
    again = prepare.prepare_clip(single_face_path, 32, store=tmp_path / "s")
    assert isinstance(again.images, np.memmap)
    np.testing.assert_array_equal(again.conditions, neural_clip32.conditions)
    np.testing.assert_array_equal(again.valid, neural_clip32.valid)
    with pytest.raises(AssertionError, match="analysed again"):   # another size: new work
        prepare.prepare_clip(single_face_path, 48, store=tmp_path / "s")
