"""The renderer file users pass around (``actor.safetensors``): one safetensors file
holding the networks (``G.*``, ``D.*``, ``Dm.*``) and, in its header metadata, the JSON
architecture config. Written atomically; never a pickle."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ned.atomic import atomic_write
from ned.errors import NedError
from ned.render.neural.config import RendererConfig

FORMAT = "ned-neural-renderer"
VERSION = "1"


def save_renderer(path: str | os.PathLike, nets: dict[str, torch.nn.Module],
                  cfg: RendererConfig, **info: Any) -> Path:
    """Write the networks and config to ``path``; ``info`` (JSON-able) is kept too."""
    path = Path(path)
    tensors = {f"{n}.{k}": v.detach().cpu().contiguous()
               for n, m in nets.items() for k, v in m.state_dict().items()}
    meta = {"format": FORMAT, "version": VERSION, "config": cfg.to_json(),
            "info": json.dumps(info, sort_keys=True)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


def read_renderer(path: str | os.PathLike) -> tuple[RendererConfig, dict[str, Any],
                                                    dict[str, torch.Tensor]]:
    """Read a renderer file: (config, info, tensors). NedError if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise NedError(f"renderer file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises several error types
        raise NedError(f"{path} is not a safetensors file ({e.__class__.__name__})") from None
    if meta.get("format") != FORMAT:
        raise NedError(f"{path} is not a ned neural renderer file")
    if meta.get("version") != VERSION:
        raise NedError(f"{path} has renderer file version {meta.get('version')}, this ned "
                       f"reads {VERSION}")
    cfg = RendererConfig.from_dict(json.loads(meta["config"]))
    return cfg, json.loads(meta.get("info", "{}")), tensors


def config_mismatch(a: RendererConfig, b: RendererConfig) -> str:
    """'' if the architectures agree, else a short 'field a != b' description (the
    preset name is ignored)."""
    da, db = json.loads(a.to_json()), json.loads(b.to_json())
    diff = [f"{k} {da[k]} != {db[k]}" for k in sorted(da) if k != "name" and da[k] != db[k]]
    return ", ".join(diff)


def load_into(nets: dict[str, torch.nn.Module], tensors: dict[str, torch.Tensor],
              path: str | os.PathLike, names: tuple[str, ...] = ("G", "D", "Dm")) -> None:
    """Load ``tensors`` of the given networks (missing discriminators are skipped)."""
    for n in names:
        sd = {k[len(n) + 1:]: v for k, v in tensors.items() if k.startswith(n + ".")}
        if not sd and n != "G":
            continue
        try:
            nets[n].load_state_dict(sd)
        except RuntimeError as e:
            first = str(e).strip().splitlines()[0][:160]
            raise NedError(f"{path}: weights of {n} do not fit ({first})") from None
