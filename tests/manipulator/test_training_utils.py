"""Tests of the shared training utilities (src/ned/training.py)."""

import json

import pytest
import torch
from torch import nn

from ned.errors import NedError
from ned.training import (
    RunDir,
    load_checkpoint,
    read_checkpoint_meta,
    save_checkpoint,
    seed_everything,
)


def test_checkpoint_roundtrip_with_optimizer(tmp_path):
    seed_everything(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    net(torch.randn(5, 3)).sum().backward()
    opt.step()
    save_checkpoint(tmp_path / "ck", {"net": net}, {"step": 7}, {"net": opt})
    assert (tmp_path / "ck.safetensors").exists() and (tmp_path / "ck.json").exists()
    net2 = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt2 = torch.optim.Adam(net2.parameters(), 1e-3)
    meta = load_checkpoint(tmp_path / "ck", {"net": net2}, {"net": opt2})
    assert meta == {"step": 7} and read_checkpoint_meta(tmp_path / "ck") == {"step": 7}
    for a, b in zip(net.parameters(), net2.parameters()):
        assert torch.equal(a, b)
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert all(torch.equal(s1[k]["exp_avg"], s2[k]["exp_avg"]) for k in s1)
    assert not list(tmp_path.glob(".*tmp*"))


def test_float16_storage_and_errors(tmp_path):
    net = nn.Linear(3, 2)
    save_checkpoint(tmp_path / "h", {"n": net}, dtype=torch.float16)
    other = nn.Linear(3, 2)
    load_checkpoint(tmp_path / "h", {"n": other})
    assert other.weight.dtype == torch.float32
    assert torch.allclose(other.weight, net.weight, atol=1e-3)
    with pytest.raises(NedError, match="do not fit"):
        load_checkpoint(tmp_path / "h", {"n": nn.Linear(4, 2)})
    with pytest.raises(NedError, match="not found"):
        load_checkpoint(tmp_path / "missing", {"n": net})
    with pytest.raises(NedError, match="no optimizer"):
        load_checkpoint(tmp_path / "h", {"n": other}, {"n": torch.optim.SGD(other.parameters(), 1)})


def test_rundir_config_and_stats(tmp_path):
    run = RunDir(tmp_path / "r", {"a": 1, "b": (1, 2)})
    run.log(1, loss=0.5)
    run.log(2, loss=0.25)
    assert json.loads((tmp_path / "r" / "config.json").read_text()) == {"a": 1, "b": [1, 2]}
    assert [s["step"] for s in run.read_stats()] == [1, 2]
    again = RunDir(tmp_path / "r", {"a": 1, "b": (1, 2)}, resume=True)
    assert len(again.read_stats()) == 2
    with pytest.raises(NedError, match="config differs in a"):
        RunDir(tmp_path / "r", {"a": 2, "b": (1, 2)}, resume=True)
    assert RunDir(tmp_path / "r", {"a": 2}).read_stats() == []


def test_seed_everything_repeats():
    seed_everything(5)
    a = torch.rand(3)
    seed_everything(5)
    assert torch.equal(a, torch.rand(3))
