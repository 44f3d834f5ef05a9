"""Port face-api's expression model (tfjs weights) to ned's PyTorch network (safetensors).

Reads ``face_expression_model-weights_manifest.json`` and ``face_expression_model.bin`` from
the npm package @vladmandic/face-api (MIT), de-quantises the uint8 weights
(``value = q * scale + min``, as the manifest states), converts TensorFlow layouts to
PyTorch ones, and writes ``src/ned/assets/face_expression/`` (weights, config.json,
the package's LICENSE).

Usage:
    mkdir -p /tmp/faceapi && cd /tmp/faceapi && npm pack @vladmandic/face-api@1.7.15 \
        && tar xzf vladmandic-face-api-1.7.15.tgz
    python scripts/port_face_api.py /tmp/faceapi/package
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from ned.metrics.emotion import ExpressionNetConfig, FaceExpressionNet

OUT = Path(__file__).resolve().parents[1] / "src" / "ned" / "assets" / "face_expression"
MODEL = "face_expression_model"


def read_tfjs(folder: Path) -> dict[str, np.ndarray]:
    """All weights of a tfjs weights manifest, de-quantised to float32, TF layouts."""
    manifest = json.loads((folder / f"{MODEL}-weights_manifest.json").read_text())
    out: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join((folder / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            n = int(np.prod(w["shape"]))
            q = w.get("quantization")
            if q:
                if q["dtype"] != "uint8":
                    raise SystemExit(f"unsupported quantisation {q['dtype']} for {w['name']}")
                raw = np.frombuffer(data, np.uint8, n, offset)
                offset += n
                arr = raw.astype(np.float32) * np.float32(q["scale"]) + np.float32(q["min"])
            else:
                if w["dtype"] != "float32":
                    raise SystemExit(f"unsupported dtype {w['dtype']} for {w['name']}")
                arr = np.frombuffer(data, "<f4", n, offset).copy()
                offset += 4 * n
            out[w["name"]] = arr.reshape(w["shape"])
        if offset != len(data):
            raise SystemExit(f"manifest covers {offset} of {len(data)} bytes")
    return out


def to_torch(tf_weights: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Map tfjs names and layouts to :class:`FaceExpressionNet`'s state dict."""
    sd: dict[str, torch.Tensor] = {}
    for b in range(4):
        p = f"dense{b}"
        if b == 0:
            sd["blocks.0.conv0.weight"] = torch.from_numpy(
                tf_weights[f"{p}/conv0/filters"].transpose(3, 2, 0, 1).copy())
            sd["blocks.0.conv0.bias"] = torch.from_numpy(tf_weights[f"{p}/conv0/bias"])
        for c in range(4):
            if b == 0 and c == 0:
                continue
            n = f"{p}/conv{c}"
            key = f"blocks.{b}.conv{c}"
            dw = tf_weights[f"{n}/depthwise_filter"]  # (3, 3, C, 1)
            pw = tf_weights[f"{n}/pointwise_filter"]  # (1, 1, C, O)
            sd[f"{key}.depthwise.weight"] = torch.from_numpy(dw.transpose(2, 3, 0, 1).copy())
            sd[f"{key}.pointwise.weight"] = torch.from_numpy(pw.transpose(3, 2, 0, 1).copy())
            sd[f"{key}.pointwise.bias"] = torch.from_numpy(tf_weights[f"{n}/bias"])
    sd["fc.weight"] = torch.from_numpy(tf_weights["fc/weights"].T.copy())
    sd["fc.bias"] = torch.from_numpy(tf_weights["fc/bias"])
    return {k: v.float().contiguous() for k, v in sd.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path, help="unpacked @vladmandic/face-api folder")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    pkg = json.loads((args.package / "package.json").read_text())
    sd = to_torch(read_tfjs(args.package / "model"))
    model = FaceExpressionNet()
    model.load_state_dict(sd, strict=True)  # every tensor mapped, shapes checked
    args.out.mkdir(parents=True, exist_ok=True)
    save_file(sd, str(args.out / "face_expression.safetensors"),
              metadata={"source": f"{pkg['name']}@{pkg['version']}/model/{MODEL}"})
    bin_sha = hashlib.sha256((args.package / "model" / f"{MODEL}.bin").read_bytes()).hexdigest()
    cfg = ExpressionNetConfig()
    config = {"architecture": "face-api FaceExpressionNet", "channels": list(cfg.channels),
              "n_classes": cfg.n_classes, "input_size": cfg.input_size,
              "labels": list(cfg.labels), "mean_rgb": [122.782, 117.001, 104.298],
              "source_package": pkg["name"], "source_version": pkg["version"],
              "source_license": pkg["license"], "source_bin_sha256": bin_sha,
              "quantisation": "uint8 weights de-quantised as q * scale + min"}
    (args.out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    shutil.copyfile(args.package / "LICENSE", args.out / "LICENSE-face-api-MIT.txt")
    print(f"wrote {args.out} ({sum(v.numel() for v in sd.values())} parameters)")


if __name__ == "__main__":
    main()
