"""Small, model-agnostic training utilities shared by ned's trainable stages.

- :func:`seed_everything`: seeds Python, NumPy and torch.
- :class:`RunDir`: a run directory holding ``config.json`` (the resolved config) and
  ``stats.jsonl`` (one JSON object per logged step), plus checkpoints.
- :func:`save_checkpoint` / :func:`load_checkpoint`: safetensors tensors + a JSON sidecar,
  never pickles. A training checkpoint can hold several modules and optimizers (their
  state is flattened into tensors + JSON), so a run can resume exactly where it stopped.

Checkpoint files: ``<name>.safetensors`` (tensors, keys ``<group>/<param name>``) and
``<name>.json`` (free-form metadata, e.g. the network config and the step). Both are
written to a temporary name and renamed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ned.atomic import atomic_write, write_text
from ned.checkpoint import read_checkpoint_meta
from ned.errors import NedError

__all__ = ["RunDir", "load_checkpoint", "read_checkpoint_meta", "save_checkpoint",
           "seed_everything", "to_jsonable"]


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; returns a torch Generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, tuples, paths and numpy scalars -> JSON-friendly values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


class RunDir:
    """A training run directory: ``config.json``, ``stats.jsonl``, checkpoints.

    Args:
        path: the folder (created if missing).
        config: the resolved configuration (dataclass or mapping), written to config.json.
            When resuming, an existing config.json must match it, else NedError.
        resume: keep an existing stats log (True) or start it afresh (False).
    """

    def __init__(self, path: str | os.PathLike, config: Any, resume: bool = False) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        cfg = to_jsonable(config)
        cfg_path = self.path / "config.json"
        if resume and cfg_path.exists():
            old = json.loads(cfg_path.read_text())
            if old != cfg:
                diff = sorted(k for k in set(old) | set(cfg) if old.get(k) != cfg.get(k))
                raise NedError(f"cannot resume {self.path}: config differs in {', '.join(diff)}")
        write_text(cfg_path, json.dumps(cfg, indent=2, sort_keys=True) + "\n")
        self.stats_path = self.path / "stats.jsonl"
        if not resume and self.stats_path.exists():
            self.stats_path.unlink()

    def log(self, step: int, **stats: float) -> None:
        """Append one line ``{"step": step, **stats}`` to stats.jsonl."""
        with open(self.stats_path, "a") as fh:
            fh.write(json.dumps({"step": int(step), **to_jsonable(stats)}) + "\n")

    def read_stats(self) -> list[dict[str, Any]]:
        """All logged lines, in order."""
        if not self.stats_path.exists():
            return []
        return [json.loads(line) for line in self.stats_path.read_text().splitlines() if line]

    def checkpoint(self, name: str = "last") -> Path:
        """Path stem of a checkpoint in this run (``<run>/<name>``, no suffix)."""
        return self.path / name


def _flatten_optimizer(opt: torch.optim.Optimizer, prefix: str,
                       tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Optimizer state -> tensors (added to ``tensors``) + JSON-able remainder."""
    sd = opt.state_dict()
    state_meta: dict[str, dict[str, Any]] = {}
    for pid, st in sd["state"].items():
        meta: dict[str, Any] = {}
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{prefix}/state/{pid}/{k}"] = v.detach().cpu().contiguous()
            else:
                meta[k] = v
        state_meta[str(pid)] = meta
    return {"param_groups": sd["param_groups"], "state": state_meta}


def _unflatten_optimizer(meta: dict[str, Any], prefix: str,
                         tensors: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for pid, m in meta["state"].items():
        st = dict(m)
        head = f"{prefix}/state/{pid}/"
        for k, v in tensors.items():
            if k.startswith(head):
                st[k[len(head):]] = v
        state[int(pid)] = st
    return {"param_groups": meta["param_groups"], "state": state}


def save_checkpoint(stem: str | os.PathLike, modules: Mapping[str, torch.nn.Module],
                    meta: Mapping[str, Any] | None = None,
                    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
                    dtype: torch.dtype | None = None) -> Path:
    """Write ``<stem>.safetensors`` + ``<stem>.json``.

    Args:
        stem: path without suffix.
        modules: name -> module; parameters stored as ``<name>/<param>``.
        meta: JSON-able metadata (network config, step, ...), stored under "meta".
        optimizers: name -> optimizer, stored fully (for resuming).
        dtype: cast floating module tensors (e.g. torch.float16 for shipping); optimizer
            state is never cast.

    Returns:
        The safetensors path.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    for name, mod in modules.items():
        for k, v in mod.state_dict().items():
            v = v.detach().cpu()
            if dtype is not None and v.is_floating_point():
                v = v.to(dtype)
            tensors[f"{name}/{k}"] = v.contiguous()
    opt_meta = {name: _flatten_optimizer(o, f"opt:{name}", tensors)
                for name, o in (optimizers or {}).items()}
    st_path, js_path = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    with atomic_write(st_path) as tmp:
        save_file(tensors, str(tmp))
        os.chmod(tmp, 0o644)  # safetensors creates the file owner-only
    doc = {"meta": to_jsonable(dict(meta or {})), "modules": sorted(modules),
           "optimizers": opt_meta}
    write_text(js_path, json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return st_path


def load_checkpoint(stem: str | os.PathLike, modules: Mapping[str, torch.nn.Module],
                    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
                    strict: bool = True) -> dict[str, Any]:
    """Load tensors into ``modules`` (and ``optimizers``); returns the "meta" mapping.

    Tensors are cast to each module's own dtype. Raises NedError on a missing or
    mismatched file.
    """
    stem = Path(stem)
    st_path = stem.with_suffix(".safetensors")
    if not st_path.is_file():
        raise NedError(f"checkpoint not found: {st_path}")
    meta = read_checkpoint_meta(stem)
    doc = json.loads(stem.with_suffix(".json").read_text())
    try:
        tensors = load_file(str(st_path))
    except Exception as e:  # safetensors raises its own error types
        raise NedError(f"{st_path} is not a safetensors file ({e.__class__.__name__})") from None
    for name, mod in modules.items():
        head = f"{name}/"
        own = mod.state_dict()
        sd = {k[len(head):]: v for k, v in tensors.items() if k.startswith(head)}
        sd = {k: v.to(own[k].dtype) if k in own else v for k, v in sd.items()}
        try:
            mod.load_state_dict(sd, strict=strict)
        except RuntimeError as e:
            first = str(e).strip().splitlines()[0][:200]
            raise NedError(f"{st_path}: weights of {name} do not fit ({first})") from None
    for name, opt in (optimizers or {}).items():
        if name not in doc.get("optimizers", {}):
            raise NedError(f"{st_path} holds no optimizer state for {name}")
        opt.load_state_dict(_unflatten_optimizer(doc["optimizers"][name], f"opt:{name}",
                                                 tensors))
    return meta
