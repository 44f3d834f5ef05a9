"""End-to-end speed and memory of `ned edit` (warp renderer).

For 640x360 clips (single_face.mp4 looped; 10 s and 60 s) and a 1920x1080 clip (the same,
upscaled; 10 s) it prints, measured in this run: the decode+encode floor (decode every
frame, re-encode it with the same encoder settings and audio copy; best of 3), the edit
with a cold analysis cache (the analysis runs beside the rendering; for the first clip
twice: the process's first edit, which pays ned's imports, then another) and with a warm
one, frames per second, the ratio to the floor, and each stage's share of the main
process's time ("plan" includes waiting for the background analysis). For the first clip
it also times both as whole processes, started afresh (`python benchmarks/reencode.py` against
`ned edit --no-cache`), alternately, and prints the median ratio. Then the peak resident
memory of a cold edit of a 1-minute and a 10-minute 640x360 clip, each in a fresh process
(the main process and the analysis process together).

    python benchmarks/edit_speed.py [--clips 640x360x10 640x360x60 1920x1080x10]
                                    [--minutes 1 10] [--skip-memory] [--pairs 3]
                                    [--cues creases,eyes | none]

``--cues`` sets the warp's appearance cues of every edit (default: the edit's default),
to measure what they cost.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests/data/single_face.mp4"
#: ``--cues`` as given ("" = the edit's default)
CUES = ""


def _cues() -> dict:
    """ned.edit's keyword for ``--cues`` (empty: the default)."""
    if not CUES:
        return {}
    from ned.editing.config import parse_cues

    return {"cues": parse_cues(CUES)}

# The edit's own peak: VmHWM (the high-water mark of this process image). ru_maxrss would
# also count the RSS of the process it was forked from (Linux keeps it across exec), here
# the benchmark's, which is about 1 GB after the 1080p clips.
CHILD = """
import resource, sys, ned
r = ned.edit(sys.argv[1], sys.argv[2], emotion="happy")
try:
    hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM")][0]
    main = int(hwm.split()[1]) / 1024
except OSError:
    main = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(main, child, r.frames)
"""


def make_clip(path: Path, seconds: float, size: tuple[int, int]) -> None:
    """single_face.mp4 looped back and forth to ``seconds``, resized to ``size``, 30 fps."""
    from ned.io import VideoWriter, read_frames

    frames = [f.image for f in read_frames(SAMPLE)]
    if size != (640, 360):
        frames = [cv2.resize(f, size, interpolation=cv2.INTER_CUBIC) for f in frames]
    loop = frames + frames[::-1]
    with VideoWriter(path, fps=30, size=size, crf=18, preset="veryfast") as w:
        for i in range(int(seconds * 30)):
            w.write(loop[i % len(loop)])


def floor(clip: Path, out: Path) -> float:
    from ned.io import VideoWriter, read_frames

    t = time.perf_counter()
    with VideoWriter(out, like=clip, audio_from=clip) as w:
        for f in read_frames(clip):
            w.write(f.image, f.pts)
    return time.perf_counter() - t


def speed(clips: list[str], pairs: int = 3) -> None:
    import ned
    from ned.io import probe

    with tempfile.TemporaryDirectory() as d:
        os.environ["NED_CACHE_DIR"] = str(Path(d) / "cache")
        for spec in clips:
            w, h, seconds = (float(v) for v in spec.split("x"))
            size = (int(w), int(h))
            clip = Path(d) / f"clip_{spec}.mp4"
            make_clip(clip, seconds, size)
            n = probe(clip).frame_count
            t_floor = min(floor(clip, Path(d) / "floor.mp4") for _ in range(3))
            t = time.perf_counter()
            cold = ned.edit(clip, Path(d) / "cold.mp4", emotion="happy", **_cues())
            t_cold = time.perf_counter() - t
            rows = [("edit, cold cache", t_cold)]
            if spec == clips[0]:  # the process's first edit paid ned's imports: once more
                rows[0] = ("edit, cold, 1st", t_cold)
                t = time.perf_counter()
                ned.edit(clip, Path(d) / "cold.mp4", emotion="happy", use_cache=False,
                         **_cues())
                rows.append(("edit, cold cache", time.perf_counter() - t))
            t = time.perf_counter()
            warm = ned.edit(clip, Path(d) / "warm.mp4", emotion="happy", **_cues())
            t_warm = time.perf_counter() - t
            print(f"\n{size[0]}x{size[1]}, {seconds:g} s, {n} frames")
            print(f"  decode+encode floor   {n / t_floor:7.1f} fps  ({t_floor:.2f} s)")
            for name, tt in (*rows, ("edit, warm cache", t_warm)):
                print(f"  {name:<21} {n / tt:7.1f} fps  ({tt:.2f} s, {tt / t_floor:.2f}x floor)")
            for name, rep, tt in (("cold", cold, t_cold), ("warm", warm, t_warm)):
                share = ", ".join(f"{k} {100 * v / tt:.0f}%" for k, v in rep.timings.items())
                print(f"  stages ({name}): {share}")
            if spec == clips[0] and pairs:
                whole_process(clip, Path(d), pairs)
            clip.unlink()


def whole_process(clip: Path, d: Path, pairs: int) -> None:
    """Time `reencode.py` and `ned edit --no-cache` as fresh processes, alternately."""
    reenc = [sys.executable, str(ROOT / "benchmarks/reencode.py"), str(clip), str(d / "r.mp4")]
    edit = [sys.executable, "-c", "import sys; from ned.cli import main; sys.exit(main())",
            "edit", str(clip), "--emotion", "happy", "-o", str(d / "e.mp4"), "--no-cache", "-q",
            *(["--cues", CUES] if CUES else [])]
    ratios, times = [], []
    for _ in range(pairs):
        t = []
        for cmd in (reenc, edit):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            t.append(time.perf_counter() - t0)
        times.append(t)
        ratios.append(t[1] / t[0])
    mid = sorted(ratios)[len(ratios) // 2]
    print(f"  whole processes, {pairs} pairs: re-encode {min(t[0] for t in times):.2f} s, "
          f"edit --no-cache {min(t[1] for t in times):.2f} s (best); "
          f"ratio median {mid:.2f}x (range {min(ratios):.2f}-{max(ratios):.2f})")


def memory(minutes: list[float]) -> None:
    peaks = []
    with tempfile.TemporaryDirectory() as d:
        for m in minutes:
            clip = Path(d) / f"clip_{m}.mp4"
            make_clip(clip, m * 60, (640, 360))
            env = {**os.environ, "NED_CACHE_DIR": str(Path(d) / f"cache{m}")}
            r = subprocess.run([sys.executable, "-c", CHILD, str(clip), str(Path(d) / "o.mp4")],
                               capture_output=True, text=True, check=True, env=env)
            main, child, frames = r.stdout.split()[-3:]
            total = float(main) + float(child)
            peaks.append(total)
            print(f"{m:5.1f} min 640x360 ({frames} frames): peak RSS {float(main):.0f} MB "
                  f"(edit) + {float(child):.0f} MB (analysis process) = {total:.0f} MB")
            clip.unlink()
    if len(peaks) > 1:
        ratio = peaks[-1] / peaks[0]
        print(f"peak RSS ratio {minutes[-1]:g} min / {minutes[0]:g} min: {ratio:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", nargs="+", default=["640x360x10", "640x360x60", "1920x1080x10"],
                    help="speed clips as WIDTHxHEIGHTxSECONDS")
    ap.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--pairs", type=int, default=3,
                    help="whole-process pairs for the first clip (0 = none)")
    ap.add_argument("--cues", default="", help="appearance cues of the edits (default: the "
                    "edit's default; 'none' = geometry only)")
    args = ap.parse_args()
    global CUES
    CUES = args.cues
    speed(args.clips, args.pairs)
    if not args.skip_memory:
        memory(args.minutes)


if __name__ == "__main__":
    main()
