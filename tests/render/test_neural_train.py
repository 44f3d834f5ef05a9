"""Neural renderer training: resume, distributed gradients, CLI and its bad inputs."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from ned.cli import main
from ned.errors import NedError
from ned.render.neural.checkpoint import save_renderer
from ned.render.neural.conditioning import fallback_warp
from ned.render.neural.config import TrainConfig, preset
from ned.render.neural.data import SequenceSampler
from ned.render.neural.nets import build_nets
from ned.render.neural.train import compute_grads, sync_grads, train_renderer

TC = TrainConfig(steps=4, batch_size=2, seq_len=2, log_every=1, sample_every=2,
                 checkpoint_every=0, seed=5)


def _train(clip, cfg, tcfg, run_dir, **kw):
    return train_renderer([clip], cfg, tcfg, run_dir=run_dir, warp_fn=fallback_warp,
                          evaluate_held_out=False, **kw)


def test_resume_continues_the_same_loss_trajectory(tmp_path, neural_clip32, micro_cfg):
    full = _train(neural_clip32, micro_cfg, TC, tmp_path / "full")
    half = _train(neural_clip32, micro_cfg, dataclasses.replace(TC, steps=2), tmp_path / "r")
    rest = _train(neural_clip32, micro_cfg, TC, tmp_path / "r", resume=True)
    assert half.step == 2 and rest.step == 4 and len(rest.history) == 2
    a = [h["g_total"] for h in full.history] + [h["d_total"] for h in full.history]
    b = [h["g_total"] for h in half.history + rest.history] + [
        h["d_total"] for h in half.history + rest.history]
    np.testing.assert_allclose(b, a, rtol=1e-5)
    assert full.history[0]["g_total"] != full.history[-1]["g_total"]   # it did train
    # the run directory: config, one stats line per step, sample grids
    stats = [json.loads(x) for x in (tmp_path / "r" / "stats.jsonl").read_text().splitlines()]
    assert [s["step"] for s in stats] == [1, 2, 3, 4]
    assert (tmp_path / "r" / "config.json").is_file()
    assert sorted(p.name for p in (tmp_path / "r" / "samples").iterdir()) == [
        "step_0000002.png", "step_0000004.png"]


def _dist_worker(rank, world, port, batch, cfg, tcfg, out_dir):
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    torch.manual_seed(0)
    nets = build_nets(cfg)
    half = {k: v[rank::world] for k, v in batch.items()}
    compute_grads(nets, half, cfg, tcfg)
    sync_grads(list(nets.values()))
    grads = {f"{k}.{n}": p.grad for k, m in nets.items() for n, p in m.named_parameters()}
    torch.save(grads, f"{out_dir}/grads{rank}.pt")
    dist.destroy_process_group()


@pytest.mark.slow
def test_two_process_gloo_gradients_equal_one_process(tmp_path, neural_clip32, micro_cfg):
    import socket

    tc = dataclasses.replace(TC, augment=False)
    sam = SequenceSampler([neural_clip32], micro_cfg, tc, torch.Generator().manual_seed(0),
                          fallback_warp)
    batch = sam.sample(4)
    torch.manual_seed(0)
    nets = build_nets(micro_cfg)
    compute_grads(nets, batch, micro_cfg, tc)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_dist_worker, args=(2, port, batch, micro_cfg, tc, str(tmp_path)), nprocs=2)
    g0 = torch.load(tmp_path / "grads0.pt", weights_only=True)
    g1 = torch.load(tmp_path / "grads1.pt", weights_only=True)
    n = big = 0
    for k, m in nets.items():
        for name, p in m.named_parameters():
            key = f"{k}.{name}"
            torch.testing.assert_close(g0[key], g1[key], rtol=0, atol=0)
            # equal up to float32 summation order (biases before instance norm have
            # zero true gradient, hence the absolute tolerance)
            torch.testing.assert_close(g0[key], p.grad, rtol=1e-3, atol=2e-5)
            big += int(p.grad.abs().max() > 1e-3)
            n += 1
    assert n > 20 and big > n // 2     # the comparison is not between near-zero tensors


def test_init_of_another_config_is_refused(tmp_path, neural_clip32, micro_cfg):
    other = preset("tiny", size=32, ngf=12, n_blocks=2, ndf=8, mouth_size=12)
    path = save_renderer(tmp_path / "o.safetensors", build_nets(other), other)
    with pytest.raises(NedError, match="another config.*ngf"):
        _train(neural_clip32, micro_cfg, TC, tmp_path / "run", init=path)


def test_meta_mode_needs_two_actors(tmp_path, neural_clip32, micro_cfg):
    with pytest.raises(NedError, match="at least 2 actors"):
        _train(neural_clip32, micro_cfg, TC, tmp_path / "run", mode="meta")


@pytest.mark.slow  # 3 s; the module's other tests stay in the fast tier
def test_meta_then_actor_finetune(tmp_path, neural_clip32, micro_cfg):
    other = dataclasses.replace(neural_clip32, name="actor_b",
                                images=neural_clip32.images[:, :, ::-1].copy())
    tc = dataclasses.replace(TC, steps=2, sample_every=0)
    meta = train_renderer([neural_clip32, other], micro_cfg, tc, out=tmp_path / "meta.safetensors",
                          mode="meta", warp_fn=fallback_warp)
    assert meta.path.is_file() and "fapd" in meta.metrics
    fine = train_renderer([neural_clip32], micro_cfg, tc, out=tmp_path / "a.safetensors",
                          init=meta.path, warp_fn=fallback_warp)
    # the fine-tune starts from the meta-renderer's weights
    from ned.render.neural.evaluate import evaluate_held_out_fapd
    from ned.render.neural.infer import NeuralRenderer
    g = NeuralRenderer.load(meta.path, device="cpu").G
    start = evaluate_held_out_fapd(g, micro_cfg, [neural_clip32], tc.val_fraction, fallback_warp)
    assert fine.metrics["fapd_start"] == pytest.approx(start["fapd"], rel=1e-6)


# CLI
def _cli(capsys, *argv):
    code = main(list(argv))
    return code, capsys.readouterr()


@pytest.mark.slow
def test_cli_trains_and_writes_a_renderer(tmp_path, capsys, single_face_path):
    out = tmp_path / "actor.safetensors"
    code, cap = _cli(capsys, "train-renderer", str(single_face_path), "-o", str(out),
                     "--config", "tiny", "--size", "32", "--steps", "2", "--quiet",
                     "--no-warp", "--threads", "1", "--eval-every", "1")
    assert code == 0, cap.err
    assert out.is_file() and "held-out FAPD" in cap.out
    stats = [json.loads(x) for x in
             (tmp_path / "actor.run" / "stats.jsonl").read_text().splitlines()]
    assert [s["step"] for s in stats if "val_fapd" in s] == [0, 1, 2, 2]
    from ned.render.neural.infer import NeuralRenderer
    assert NeuralRenderer.load(out).size == 32


@pytest.mark.parametrize("case", ["no_face", "short", "vgg", "init", "output"])
def test_cli_bad_inputs(case, tmp_path, capsys, single_face_path, no_face_path, micro_cfg):
    args = ["train-renderer", str(single_face_path), "-o", str(tmp_path / "a.safetensors"),
            "--config", "tiny", "--size", "32", "--steps", "1", "--quiet"]
    if case == "no_face":
        args[1] = str(no_face_path)
        expect = "no face"
    elif case == "short":                      # 4 face frames: not enough to train
        from ned.io.video import read_frames
        from tests.conftest import make_video
        frames = [f.image for f in read_frames(single_face_path, stop=4)]
        args[1] = str(make_video(tmp_path / "short.mp4", frames))
        expect = "too few valid frames"
    elif case == "vgg":
        args += ["--vgg", str(tmp_path / "vgg19.pth")]
        expect = "VGG19 weights not found"
    elif case == "init":
        p = save_renderer(tmp_path / "m.safetensors", build_nets(micro_cfg), micro_cfg)
        args = args[:4] + ["--config", "paper", "--init", str(p), "--quiet"]
        expect = "another config"
    else:
        args[3] = str(tmp_path / "a.pt")
        expect = "must be a .safetensors"
    code, cap = _cli(capsys, *args)
    assert code == 1
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0] and "Traceback" not in cap.err
    assert not (tmp_path / "a.safetensors").exists()
