"""Analysis speed and memory.

Prints, for each sample clip, milliseconds per frame of `ned.analysis.analyze_to_file`
and its ratio to a decode-only pass over the same clip (both measured in this run), then
the peak resident memory of the analysis of a generated 1-minute and 10-minute 640x360
clip (single_face.mp4 looped), each in a fresh process, and their ratio.

    python benchmarks/analysis_speed.py [--minutes 1 10] [--skip-memory]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIPS = [ROOT / "tests/data/single_face.mp4", ROOT / "tests/data/carphone.mp4"]

CHILD = """
import resource, sys
from ned.analysis import analyze_to_file
s = analyze_to_file(sys.argv[1], sys.argv[2])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, s["frames"], s["valid"])
"""


def decode_only(path: Path) -> tuple[float, int]:
    from ned.io import read_frames

    t = time.perf_counter()
    n = sum(1 for _ in read_frames(path))
    return time.perf_counter() - t, n


def speed(repeats: int) -> None:
    from ned.analysis import analyze_to_file

    print(f"{'clip':<18}{'size':>10}{'frames':>8}{'ms/frame':>10}{'decode ms':>11}{'ratio':>8}")
    with tempfile.TemporaryDirectory() as d:
        for clip in CLIPS:
            best_a, best_d = float("inf"), float("inf")
            for _ in range(repeats):
                td, n = decode_only(clip)
                t = time.perf_counter()
                analyze_to_file(clip, Path(d) / "t.npz")
                best_a = min(best_a, time.perf_counter() - t)
                best_d = min(best_d, td)
            from ned.io import probe

            info = probe(clip)
            print(f"{clip.name:<18}{info.width:>5}x{info.height:<4}{n:>8}"
                  f"{1000 * best_a / n:>10.2f}{1000 * best_d / n:>11.2f}{best_a / best_d:>8.1f}")


def make_long_clip(path: Path, minutes: float) -> None:
    from ned.io import VideoWriter, probe, read_frames

    frames = [f.image for f in read_frames(CLIPS[0])]
    loop = frames + frames[::-1]
    n = int(round(minutes * 60 * probe(CLIPS[0]).fps))
    with VideoWriter(path, fps=30, size=(640, 360), preset="ultrafast", crf=23) as w:
        for i in range(n):
            w.write(loop[i % len(loop)])


def memory(minutes: list[float]) -> None:
    peaks = []
    with tempfile.TemporaryDirectory() as d:
        for m in minutes:
            clip = Path(d) / f"clip_{m}min.mp4"
            make_long_clip(clip, m)
            out = subprocess.run([sys.executable, "-c", CHILD, str(clip), str(Path(d) / "t.npz")],
                                 capture_output=True, text=True, check=True)
            rss, frames, valid = out.stdout.split()
            peaks.append(float(rss))
            print(f"{m:>5.1f} min 640x360 ({frames} frames, face on {valid}): "
                  f"peak RSS {float(rss):.0f} MB")
            clip.unlink()
    if len(peaks) > 1:
        print(f"peak RSS ratio {minutes[-1]:g} min / {minutes[0]:g} min: "
              f"{peaks[-1] / peaks[0]:.2f} (goal <= 1.2)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-memory", action="store_true")
    args = ap.parse_args()
    speed(args.repeats)
    if not args.skip_memory:
        memory(args.minutes)


if __name__ == "__main__":
    main()
