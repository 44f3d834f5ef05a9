"""Contact sheets: what each emotion's edit looks like on the bundled clips.

For each emotion one PNG, ``docs/images/sheet_<emotion>.png``: per clip one row of three
moments (the face frames at 20 %, 50 % and 80 % of the clip's face frames), each moment the
source and the edited face crop side by side (the source analysis' face box, squared and
grown, the same box on both, scaled to 160 px high). The edits are made by ``ned.edit``
(default options: intensity 1, seed 0) in a temporary folder, or read from ``--from DIR``
(``DIR/<clip>_<emotion>.mp4``, as ``benchmarks/quality.py --keep DIR`` writes them). Drawn
with OpenCV; written as a palette PNG (kept under 300 KB)::

    nice python benchmarks/contact_sheets.py [--emotions angry sad] [--from DIR]
        [--out docs/images]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLIPS = [ROOT / "tests/data/single_face.mp4", ROOT / "tests/data/carphone.mp4"]
OUT = ROOT / "docs/images"
EMOTION_ORDER = ("neutral", "angry", "disgusted", "fear", "happy", "sad", "surprised")
MOMENTS = (0.2, 0.5, 0.8)
TILE = 160            # tile height (and width: square crops), px
CAPTION = 18          # caption strip above each tile
LABEL_W = 130         # row label column
GAP, PAIR_GAP = 2, 14  # between source and edited, between moments
MAX_BYTES = 300_000
FONT = cv2.FONT_HERSHEY_SIMPLEX


def moments(valid: np.ndarray, shares: tuple[float, ...] = MOMENTS) -> list[int]:
    """Frame indices at the given shares of the clip's face frames."""
    idx = np.flatnonzero(valid)
    if not len(idx):
        return []
    return [int(idx[int(round(q * (len(idx) - 1)))]) for q in shares]


def face_square(points: np.ndarray, grow: float = 1.25) -> tuple[int, int, int]:
    """(x0, y0, side) of a square around the landmarks, grown about its centre."""
    xy = points[:, :2]
    lo, hi = xy.min(0), xy.max(0)
    c = (lo + hi) / 2
    side = int(round(max(hi - lo) * grow))
    return int(round(c[0] - side / 2)), int(round(c[1] - side / 2)), max(side, 8)


def crop(image: np.ndarray, box: tuple[int, int, int], size: int = TILE) -> np.ndarray:
    """The square box of an RGB image (edge pixels repeated outside it), resized."""
    x0, y0, side = box
    h, w = image.shape[:2]
    pad = max(0, -x0, -y0, x0 + side - w, y0 + side - h)
    img = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else image
    c = img[y0 + pad:y0 + pad + side, x0 + pad:x0 + pad + side]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return cv2.resize(c, (size, size), interpolation=interp)


def _frames(path: Path, wanted: list[int]) -> dict[int, np.ndarray]:
    from ned.io.video import read_frames

    out, last = {}, max(wanted)
    for f in read_frames(path, stop=last + 1):
        if f.index in wanted:
            out[f.index] = f.image
    return out


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float = 0.45,
          color: tuple[int, int, int] = (20, 20, 20), thick: int = 1) -> None:
    cv2.putText(img, text, org, FONT, scale, color, thick, cv2.LINE_AA)


def clip_row(clip: Path, edited: Path, emotion: str, track) -> np.ndarray:
    """One row: the label, then three moments of source | edited face crops (RGB)."""
    idx = moments(track.valid)
    src, edt = _frames(clip, idx), _frames(edited, idx)
    pair_w = 2 * TILE + GAP
    width = LABEL_W + len(idx) * pair_w + (len(idx) - 1) * PAIR_GAP
    row = np.full((CAPTION + TILE, width, 3), 255, np.uint8)
    _text(row, clip.stem, (6, CAPTION + TILE // 2 - 6), 0.5, thick=1)
    _text(row, f"-> {emotion}", (6, CAPTION + TILE // 2 + 16), 0.5, (150, 20, 20))
    for k, i in enumerate(idx):
        box = face_square(track.landmarks[i])
        x = LABEL_W + k * (pair_w + PAIR_GAP)
        t = track.timestamps[i]
        for j, (name, frames) in enumerate((("source", src), ("edited", edt))):
            xx = x + j * (TILE + GAP)
            if i in frames:
                row[CAPTION:, xx:xx + TILE] = crop(frames[i], box)
            _text(row, f"{name}" + (f"  {t:.1f} s" if j == 0 else ""), (xx + 3, CAPTION - 5),
                  0.42, (20, 20, 20) if j == 0 else (150, 20, 20))
    return row


def sheet(emotion: str, rows: list[np.ndarray]) -> np.ndarray:
    """Rows stacked under a title (RGB)."""
    width = max(r.shape[1] for r in rows)
    title = np.full((26, width, 3), 255, np.uint8)
    _text(title, f"ned.edit -> {emotion} (intensity 1, seed 0): source | edited at 20 %, "
          "50 %, 80 % of the face frames", (6, 18), 0.5)
    parts = [title]
    for r in rows:
        pad = np.full((r.shape[0], width - r.shape[1], 3), 255, np.uint8)
        parts += [np.full((6, width, 3), 255, np.uint8), np.concatenate([r, pad], 1)]
    return np.concatenate(parts, 0)


def write_png(path: Path, rgb: np.ndarray, max_bytes: int = MAX_BYTES) -> int:
    """Write a palette PNG (Pillow's adaptive palette, fewer colours until it fits under
    ``max_bytes``; OpenCV's truecolour PNG without Pillow). Returns the file size."""
    from ned.atomic import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        from PIL import Image
    except ImportError:
        Image = None
    for colours in (256, 128, 64):
        with atomic_write(path) as tmp:
            if Image is not None:
                Image.fromarray(rgb).quantize(colours, dither=Image.Dither.NONE).save(
                    tmp, format="PNG", optimize=True)
            else:
                ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                                       [cv2.IMWRITE_PNG_COMPRESSION, 9])
                Path(tmp).write_bytes(buf.tobytes())
        size = path.stat().st_size
        if size <= max_bytes or Image is None:
            return size
    return size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emotions", nargs="+", choices=EMOTION_ORDER, metavar="EMOTION")
    parser.add_argument("--from", dest="source_dir", type=Path,
                        help="edited clips named <clip>_<emotion>.mp4 (else edited now)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--intensity", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import ned
    from ned.analysis.cache import cached_track

    emotions = [e for e in EMOTION_ORDER if e in (args.emotions or EMOTION_ORDER)]
    tracks = {c: cached_track(c) for c in CLIPS}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ned-sheets-") as tmp:
        for emotion in emotions:
            rows = []
            for clip in CLIPS:
                name = f"{clip.stem}_{emotion}.mp4"
                if args.source_dir is not None:
                    edited = args.source_dir / name
                    if not edited.is_file():
                        print(f"missing {edited}; skipped", file=sys.stderr)
                        continue
                else:
                    edited = Path(tmp) / name
                    ned.edit(clip, edited, emotion=emotion, intensity=args.intensity,
                             seed=args.seed)
                rows.append(clip_row(clip, edited, emotion, tracks[clip]))
            if not rows:
                continue
            out = args.out / f"sheet_{emotion}.png"
            size = write_png(out, sheet(emotion, rows))
            print(f"wrote {out} ({size / 1000:.0f} KB)", file=sys.stderr)
    print(f"{len(emotions)} sheet(s) in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
