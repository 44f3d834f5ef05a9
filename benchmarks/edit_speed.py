"""End-to-end speed and memory of `ned edit` (warp renderer), on clean clips, clips with a
hand over the face, and large frames.

Clips are single_face.mp4 looped back and forth, resized (WIDTHxHEIGHTxSECONDS); with
``+hand`` the synthetic hand of ``tests/occluder.py`` sweeps across the face from 10% to
95% of the clip (over the face's box in 85% of its frames). For each clip it prints,
measured in this run: the decode+encode floor (decode every frame, re-encode it with the
same encoder settings and audio copy; best of 3, of 2 above 1080p), the edit with a cold
analysis cache (the analysis runs beside the rendering; for the first clip twice: the
process's first edit, which pays ned's imports, then another) and with a warm one, frames
per second, the ratio to the floor, each stage's share of the main process's time
("plan" includes waiting for the background analysis), and how the two processes shared
the work: CPU seconds of each and the seconds each waited for the other (the edit for
rows, the analysis for the edit to take them), and the hand model's searches. Then the
peak resident memory of a cold edit of the clip in a fresh process (the edit's process
and the analysis process, and their sum).

For the clips of ``--whole`` it also times whole processes started afresh, alternately:
`python benchmarks/reencode.py` against `ned edit --no-cache` (a first edit) and against
`ned edit` with the analysis cached, and prints the median ratios. ``--minutes`` edits
longer 640x360 clips in fresh processes for the peak memory's growth with clip length.

    python benchmarks/edit_speed.py [--clips 640x360x10 640x360x10+hand ...]
                                    [--whole 640x360x10 640x360x10+hand] [--pairs 3]
                                    [--minutes 1 10] [--skip-memory]
                                    [--cues creases,eyes | none]

``--cues`` sets the warp's appearance cues of every edit (default: the edit's default),
to measure what they cost.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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
CLIPS = ["640x360x10", "640x360x10+hand", "640x360x60", "1920x1080x10",
         "1920x1080x10+hand", "3840x2160x10"]


def _cues() -> dict:
    """ned.edit's keyword for ``--cues`` (empty: the default)."""
    if not CUES:
        return {}
    from ned.editing.config import parse_cues

    return {"cues": parse_cues(CUES)}


# The edit's own peak: VmHWM (the high-water mark of this process image). ru_maxrss would
# also count the RSS of the process it was forked from (Linux keeps it across exec), here
# the benchmark's, which is about 1 GB after the 1080p clips; the analysis process is
# started by the edit's process first thing, when it holds about 130 MB.
CHILD = """
import json, resource, sys, ned
from ned.editing.config import parse_cues
cues = {"cues": parse_cues(sys.argv[3])} if sys.argv[3] else {}
r = ned.edit(sys.argv[1], sys.argv[2], emotion="happy", **cues)
try:
    hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM")][0]
    main = int(hwm.split()[1]) / 1024
except OSError:
    main = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"edit": main, "analysis": child, "frames": r.frames}))
"""


def parse_clip(spec: str) -> tuple[tuple[int, int], float, bool]:
    """'640x360x10+hand' -> ((640, 360), 10.0, True)."""
    body, _, extra = spec.partition("+")
    if extra not in ("", "hand"):
        raise SystemExit(f"unknown clip option {extra!r} in {spec} (only +hand)")
    w, h, seconds = (float(v) for v in body.split("x"))
    return (int(w), int(h)), seconds, extra == "hand"


def make_clip(path: Path, seconds: float, size: tuple[int, int], hand: bool = False) -> None:
    """single_face.mp4 looped back and forth to ``seconds``, resized to ``size``, 30 fps.

    With ``hand``, the synthetic hand of ``tests/occluder.py`` (a shaded, skin-coloured
    hand shape, 90 px across at 360 lines, scaled with the frame) sweeps back and forth
    across the face every 2 s from 10% of the clip to 95% of it: over the face's box in
    85% of the frames.
    """
    from ned.io import VideoWriter, read_frames

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.occluder import draw_hand, hand_texture, sweep

    frames = [f.image for f in read_frames(SAMPLE)]
    loop = frames + frames[::-1]
    n = int(seconds * 30)
    texture = hand_texture((size[1], size[0])) if hand else None
    with VideoWriter(path, fps=30, size=size, crf=18, preset="veryfast") as w:
        for i in range(n):
            img = loop[i % len(loop)]
            if size != (640, 360):  # frame by frame: 300 4K frames would take 7 GB
                img = cv2.resize(img, size, interpolation=cv2.INTER_CUBIC)
            x = sweep(i, n // 10, n * 95 // 100, period=60, hi=0.6) if hand else None
            if x is not None:
                img = img.copy()
                draw_hand(img, x, 90.0 * size[1] / 360, texture)
            w.write(img)


def floor(clip: Path, out: Path) -> float:
    from ned.io import VideoWriter, read_frames

    t = time.perf_counter()
    with VideoWriter(out, like=clip, audio_from=clip) as w:
        for f in read_frames(clip):
            w.write(f.image, f.pts)
    return time.perf_counter() - t


def _processes(rep) -> str:
    """How the two processes shared the work (from the report's timings)."""
    t = rep.timings
    text = f"edit CPU {t.get('edit_cpu', 0):.1f} s"
    if "analysis_cpu" in t:
        text += (f", waited {t.get('edit_waited', 0):.1f} s for rows; analysis CPU "
                 f"{t['analysis_cpu']:.1f} s, waited {t.get('analysis_waited', 0):.1f} s "
                 f"for the edit; hand model on {t.get('hand_searches', 0):.0f} frames")
    return text


def speed(clips: list[str], whole: list[str], pairs: int = 3, skip_memory: bool = False
          ) -> None:
    import ned
    from ned.io import probe

    with tempfile.TemporaryDirectory() as d:
        os.environ["NED_CACHE_DIR"] = str(Path(d) / "cache")
        for spec in clips:
            size, seconds, hand = parse_clip(spec)
            clip = Path(d) / f"clip_{spec.replace('+', '_')}.mp4"
            make_clip(clip, seconds, size, hand)
            n = probe(clip).frame_count
            tries = 3 if size[0] * size[1] <= 1920 * 1088 else 2
            t_floor = min(floor(clip, Path(d) / "floor.mp4") for _ in range(tries))
            t = time.perf_counter()
            cold = ned.edit(clip, Path(d) / "cold.mp4", emotion="happy", **_cues())
            t_cold = time.perf_counter() - t
            rows = [("edit, cold cache", t_cold)]
            if spec == clips[0]:  # the process's first edit paid ned's imports: once more
                rows[0] = ("edit, cold, 1st", t_cold)
                t = time.perf_counter()
                cold = ned.edit(clip, Path(d) / "cold.mp4", emotion="happy", use_cache=False,
                                **_cues())
                t_cold = time.perf_counter() - t
                rows.append(("edit, cold cache", t_cold))
            t = time.perf_counter()
            warm = ned.edit(clip, Path(d) / "warm.mp4", emotion="happy", **_cues())
            t_warm = time.perf_counter() - t
            print(f"\n{spec}: {size[0]}x{size[1]}, {seconds:g} s, {n} frames"
                  + (", a hand over the face" if hand else ""))
            print(f"  decode+encode floor   {n / t_floor:7.1f} fps  ({t_floor:.2f} s)")
            for name, tt in (*rows, ("edit, warm cache", t_warm)):
                print(f"  {name:<21} {n / tt:7.1f} fps  ({tt:.2f} s, {tt / t_floor:.2f}x floor)")
            for name, rep, tt in (("cold", cold, t_cold), ("warm", warm, t_warm)):
                share = ", ".join(f"{k} {100 * v / tt:.0f}%" for k, v in rep.timings.items()
                                  if k in ("startup", "plan", "render", "encode", "calibrate"))
                print(f"  stages ({name}): {share}")
                print(f"  processes ({name}): {_processes(rep)}")
            if not skip_memory:
                main, child, _ = peak_memory(clip, Path(d))
                print(f"  peak RSS of a cold edit in a fresh process: {main:.0f} MB (edit) + "
                      f"{child:.0f} MB (analysis) = {main + child:.0f} MB")
            if spec in whole and pairs:
                whole_process(clip, Path(d), pairs)
            clip.unlink()


def whole_process(clip: Path, d: Path, pairs: int) -> None:
    """Time `reencode.py` against `ned edit --no-cache` and against `ned edit` with the
    analysis cached, as fresh processes, alternately."""
    reenc = [sys.executable, str(ROOT / "benchmarks/reencode.py"), str(clip), str(d / "r.mp4")]
    edit = [sys.executable, "-c", "import sys; from ned.cli import main; sys.exit(main())",
            "edit", str(clip), "--emotion", "happy", "-o", str(d / "e.mp4"), "-q",
            *(["--cues", CUES] if CUES else [])]
    env = {**os.environ, "NED_CACHE_DIR": str(d / "whole-cache")}
    subprocess.run(edit, check=True, capture_output=True, env=env)  # fills the cache
    for name, cmd in (("first edit (--no-cache)", [*edit, "--no-cache"]),
                      ("edit, analysis cached", edit)):
        ratios, times = [], []
        for _ in range(pairs):
            t = []
            for c in (reenc, cmd):
                t0 = time.perf_counter()
                subprocess.run(c, check=True, capture_output=True, env=env)
                t.append(time.perf_counter() - t0)
            times.append(t)
            ratios.append(t[1] / t[0])
        print(f"  whole processes, {pairs} pairs, {name}: re-encode "
              f"{statistics.median(t[0] for t in times):.2f} s, edit "
              f"{statistics.median(t[1] for t in times):.2f} s (medians); ratio median "
              f"{statistics.median(ratios):.2f}x (range {min(ratios):.2f}-{max(ratios):.2f})")


def peak_memory(clip: Path, d: Path) -> tuple[float, float, int]:
    """(edit MB, analysis MB, frames) of a cold edit of ``clip`` in a fresh process."""
    cache = tempfile.mkdtemp(dir=d)
    env = {**os.environ, "NED_CACHE_DIR": cache}
    r = subprocess.run([sys.executable, "-c", CHILD, str(clip), str(d / "o.mp4"), CUES],
                       capture_output=True, text=True, check=True, env=env)
    got = json.loads(r.stdout.strip().splitlines()[-1])
    return got["edit"], got["analysis"], got["frames"]


def memory(minutes: list[float]) -> None:
    peaks = []
    with tempfile.TemporaryDirectory() as d:
        for m in minutes:
            clip = Path(d) / f"clip_{m}.mp4"
            make_clip(clip, m * 60, (640, 360))
            main, child, frames = peak_memory(clip, Path(d))
            total = main + child
            peaks.append(total)
            print(f"{m:5.1f} min 640x360 ({frames} frames): peak RSS {main:.0f} MB "
                  f"(edit) + {child:.0f} MB (analysis process) = {total:.0f} MB")
            clip.unlink()
    if len(peaks) > 1:
        ratio = peaks[-1] / peaks[0]
        print(f"peak RSS ratio {minutes[-1]:g} min / {minutes[0]:g} min: {ratio:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", nargs="+", default=CLIPS,
                    help="speed clips as WIDTHxHEIGHTxSECONDS[+hand]")
    ap.add_argument("--whole", nargs="*", default=["640x360x10", "640x360x10+hand"],
                    help="clips also timed as whole processes against reencode.py")
    ap.add_argument("--minutes", type=float, nargs="*", default=[1.0, 10.0],
                    help="640x360 clips (minutes) whose peak memory is compared")
    ap.add_argument("--skip-memory", action="store_true",
                    help="no peak-memory runs (neither per clip nor --minutes)")
    ap.add_argument("--pairs", type=int, default=3,
                    help="whole-process pairs per clip of --whole (0 = none)")
    ap.add_argument("--cues", default="", help="appearance cues of the edits (default: the "
                    "edit's default; 'none' = geometry only)")
    args = ap.parse_args()
    global CUES
    CUES = args.cues
    for spec in [*args.clips, *args.whole]:
        parse_clip(spec)
    if set(args.whole) - set(args.clips):
        raise SystemExit("--whole names clips that --clips does not")
    speed(args.clips, args.whole, args.pairs, args.skip_memory)
    if not args.skip_memory and args.minutes:
        memory(args.minutes)


if __name__ == "__main__":
    main()
