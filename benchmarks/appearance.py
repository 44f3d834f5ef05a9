"""Appearance cues, measured where they should be, and shown.

Each bundled clip is edited to each of the seven emotions twice: geometry only
(``cues=()``) and with the appearance cues (the default), or both are read from folders
(``--geometry DIR --appearance DIR``, ``DIR/<clip>_<emotion>.mp4``). On every frame with a
face, in bands 0.06 inter-ocular distances either side of each crease line (placed from the
geometry-only output's re-detected landmarks: ``ned.render.appearance.crease_lines``), the
mean brightness change
appearance - geometry (grey levels; negative = darker, a crease drawn) and its mean
absolute value; in the face oval (eroded by 0.1 IOD) the sharpness (mean squared Laplacian
of the brightness) and the mean colour of each output against the source, and the
sharpness of the skin alone (the oval without the eyes, brows and lips, in the source's
and the edit's positions, each grown by 0.12 IOD: what an edit redraws on purpose, a
wider eye's sclera, parted teeth, does not count as sharpness kept or lost). Prints one table
per clip and writes the contact sheets ``docs/images/appearance_<clip>.png`` (per emotion
one row, three moments, each source | geometry only | with appearance)::

    nice python benchmarks/appearance.py [--geometry DIR --appearance DIR] [--out docs/images]
        [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from contact_sheets import (
    CLIPS,
    EMOTION_ORDER,
    _frames,
    _text,
    crop,
    face_square,
    moments,
    write_png,
)
from reencode import reencode

KINDS = ("nasolabial", "glabella", "nose_root", "forehead", "under_eye", "crows_feet",
         "lid_fold", "nose_side", "under_lip")
TILE = 100


def _bands(points: np.ndarray, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    from ned.render.appearance import crease_lines
    from ned.topology import inter_ocular

    iod = float(inter_ocular(points))
    out: dict[str, np.ndarray] = {}
    for c in crease_lines(points):
        m = out.setdefault(c.name, np.zeros(shape, np.uint8))
        cv2.polylines(m, [np.round(c.points).astype(np.int32)], False, 1,
                      max(1, round(0.12 * iod)))
    return {k: v > 0 for k, v in out.items()}


def _lum(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _features(*points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) bool: the eyes, brows and lips of every landmark set, each grown by 0.12 IOD."""
    from ned.topology import (
        LEFT_EYE,
        LEFT_EYEBROW,
        LIPS_OUTER,
        RIGHT_EYE,
        RIGHT_EYEBROW,
        inter_ocular,
    )

    m = np.zeros(shape, np.uint8)
    for p in points:
        p = np.asarray(p, np.float64)[:, :2]
        grow = max(1, round(0.12 * float(inter_ocular(p))))
        part = np.zeros(shape, np.uint8)
        for ids in (LEFT_EYE, RIGHT_EYE, LEFT_EYEBROW, RIGHT_EYEBROW, LIPS_OUTER):
            hull = cv2.convexHull(np.round(p[list(ids)]).astype(np.int32))
            cv2.fillConvexPoly(part, hull, 1)
        m |= cv2.dilate(part, np.ones((2 * grow + 1,) * 2, np.uint8))
    return m > 0


def measure(clip: Path, geometry: Path, appearance: Path, track, placed=None,
            floor: Path | None = None) -> dict:
    """Per crease kind the mean signed and absolute brightness change appearance - geometry
    in its bands (placed from ``placed``, the geometry-only output's own analysis: an edit
    moves the creases with the face, a frown's furrows by a sixth of the inter-ocular
    distance; ``track``, the source's, when None); sharpness and colour of both outputs
    against the source, in the source's face; with ``floor`` (the source decoded and
    encoded again, `benchmarks/reencode.py`) also its sharpness, the codec's own loss."""
    from ned.io.video import read_frames
    from ned.mask import face_mask
    from ned.topology import inter_ocular

    sums: dict[str, list[float]] = {k: [] for k in KINDS}
    abs_sums: dict[str, list[float]] = {k: [] for k in KINDS}
    names = ("source", "geometry", "appearance") + (("floor",) if floor else ())
    sharp: dict[str, list[float]] = {k: [] for k in names}
    skin_sharp: dict[str, list[float]] = {k: [] for k in names}
    colour = {"geometry": [], "appearance": []}
    readers = zip(read_frames(clip), read_frames(geometry), read_frames(appearance),
                  *([read_frames(floor)] if floor else []))
    for fs, fg, fa, *ff in readers:
        i = fs.index
        if i >= len(track.valid) or not track.valid[i]:
            continue
        pts = track.landmarks[i].astype(np.float64)
        ls, lg, la = _lum(fs.image), _lum(fg.image), _lum(fa.image)
        at = pts if placed is None or not placed.valid[i] else placed.landmarks[i]
        for k, band in _bands(np.asarray(at, np.float64), ls.shape).items():
            d = (la - lg)[band]
            sums[k].append(float(d.mean()))
            abs_sums[k].append(float(np.abs(d).mean()))
        erode = max(1, round(0.1 * float(inter_ocular(pts))))
        face = face_mask(pts, ls.shape, erode=erode) > 0.5
        skin = face & ~_features(pts, at, shape=ls.shape)
        lums = [("source", ls), ("geometry", lg), ("appearance", la)]
        lums += [("floor", _lum(ff[0].image))] if ff else []
        for name, lum in lums:
            lap2 = cv2.Laplacian(lum, cv2.CV_32F) ** 2
            sharp[name].append(float(lap2[face].mean()))
            skin_sharp[name].append(float(lap2[skin].mean()))
        for name, img in (("geometry", fg.image), ("appearance", fa.image)):
            colour[name].append((img[face].astype(np.float32).mean(0)
                                 - fs.image[face].astype(np.float32).mean(0)).tolist())
    s = {k: float(np.mean(v)) for k, v in sharp.items()}
    sk = {k: float(np.mean(v)) for k, v in skin_sharp.items()}
    return {"signed": {k: float(np.mean(v)) for k, v in sums.items() if v},
            "absolute": {k: float(np.mean(v)) for k, v in abs_sums.items() if v},
            "sharpness_ratio": {k: s[k] / max(s["source"], 1e-9) for k in names[1:]},
            "skin_sharpness_ratio": {k: sk[k] / max(sk["source"], 1e-9) for k in names[1:]},
            "colour_shift": {k: np.abs(np.mean(v, 0)).max().item() for k, v in colour.items()}}


def sheet(clip: Path, dirs: tuple[Path, Path], track) -> np.ndarray:
    """Per emotion one row: three moments, each source | geometry only | with appearance."""
    idx = moments(track.valid)
    src = _frames(clip, idx)
    label_w, cap, gap, trio_gap = 96, 16, 2, 10
    trio = 3 * TILE + 2 * gap
    width = label_w + len(idx) * trio + (len(idx) - 1) * trio_gap
    rows = []
    title = np.full((24, width, 3), 255, np.uint8)
    _text(title, f"{clip.name}: source | geometry only | with appearance (the default "
          "cues: creases, eyes), 20/50/80 % of the face frames", (6, 17), 0.42)
    rows.append(title)
    for emotion in EMOTION_ORDER:
        geo = _frames(dirs[0] / f"{clip.stem}_{emotion}.mp4", idx)
        app = _frames(dirs[1] / f"{clip.stem}_{emotion}.mp4", idx)
        row = np.full((cap + TILE, width, 3), 255, np.uint8)
        _text(row, emotion, (6, cap + TILE // 2 + 4), 0.5, (150, 20, 20))
        for k, i in enumerate(idx):
            box = face_square(track.landmarks[i])
            x = label_w + k * (trio + trio_gap)
            for j, (name, frames) in enumerate((("source", src), ("geometry", geo),
                                                 ("appearance", app))):
                xx = x + j * (TILE + gap)
                if i in frames:
                    row[cap:, xx:xx + TILE] = crop(frames[i], box, TILE)
                if emotion == EMOTION_ORDER[0]:
                    _text(row, name, (xx + 3, cap - 4), 0.36)
        rows.append(row)
    return np.concatenate(rows, 0)


def table(clip: str, results: dict[str, dict]) -> str:
    head = ("| emotion | " + " | ".join(KINDS) + " | sharpness geo / app | skin sharpness "
            "geo / app | colour shift geo / app |")
    lines = [f"**{clip}**: brightness change appearance - geometry in each crease band, "
             "grey levels (mean signed / mean absolute); sharpness = face's mean squared "
             "Laplacian over the source's (skin: without the eyes, brows and lips; floor: "
             "the source decoded and encoded again with the edit's writer, the codec's own "
             "loss); colour shift = largest channel mean change against the source, grey "
             "levels.", "",
             head, "|" + "---|" * (len(KINDS) + 4)]
    for emotion, r in results.items():
        cells = [f"{r['signed'].get(k, 0):+.1f} / {r['absolute'].get(k, 0):.1f}"
                 for k in KINDS]
        sh, co = r["sharpness_ratio"], r["colour_shift"]
        sk = r["skin_sharpness_ratio"]
        fl = (f" (floor {sh['floor']:.2f})", f" (floor {sk['floor']:.2f})") \
            if "floor" in sh else ("", "")
        lines.append(f"| {emotion} | " + " | ".join(cells)
                     + f" | {sh['geometry']:.2f} / {sh['appearance']:.2f}{fl[0]} | "
                     f"{sk['geometry']:.2f} / {sk['appearance']:.2f}{fl[1]} | "
                     f"{co['geometry']:.1f} / {co['appearance']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--geometry", type=Path, help="folder of geometry-only edits")
    parser.add_argument("--appearance", type=Path, help="folder of edits with appearance")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1]
                        / "docs/images")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    import ned
    from ned.analysis.cache import cached_track

    if (args.geometry is None) != (args.appearance is None):
        parser.error("give both --geometry and --appearance, or neither")
    with tempfile.TemporaryDirectory(prefix="ned-appearance-") as tmp:
        dirs = (args.geometry, args.appearance)
        if args.geometry is None:
            dirs = (Path(tmp) / "geometry", Path(tmp) / "appearance")
            for d, cues in zip(dirs, ((), None)):  # geometry only, the default cues
                d.mkdir()
                for clip in CLIPS:
                    for emotion in EMOTION_ORDER:
                        ned.edit(clip, d / f"{clip.stem}_{emotion}.mp4", emotion=emotion,
                                 seed=0, cues=cues)
        data: dict = {}
        for clip in CLIPS:
            track = cached_track(clip)
            floor = Path(tmp) / f"{clip.stem}_floor.mp4"
            reencode(str(clip), str(floor))
            data[clip.stem] = {}
            for e in EMOTION_ORDER:
                geo = dirs[0] / f"{clip.stem}_{e}.mp4"
                data[clip.stem][e] = measure(clip, geo, dirs[1] / f"{clip.stem}_{e}.mp4",
                                             track, cached_track(geo), floor)
            print(table(clip.stem, data[clip.stem]) + "\n")
            size = write_png(args.out / f"appearance_{clip.stem}.png", sheet(clip, dirs, track))
            print(f"wrote {args.out / f'appearance_{clip.stem}.png'} ({size // 1000} KB)",
                  file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
