"""Speed of the crease shading (``ned.render.appearance.shade_creases``) against another
revision of ``appearance.py``, and what it costs the whole edit.

The arguments of every ``shade_creases`` call of one warp edit per clip are captured, then
both versions shade the same arguments, interleaved frame by frame (per call the minimum
and the median over ``--repeats``); the outputs are compared (largest and mean absolute
difference, grey levels). With ``--edits N`` the whole ``ned.edit`` of the first clip is
timed N times with the default cues and with ``cues=()``, alternating, for both versions
(the baseline's ``shade_creases`` swapped into the renderer; the analysis is cached)::

    python benchmarks/crease_speed.py [--rev 8022b96] [--clips single_face:angry
        carphone:surprised] [--repeats 5] [--edits 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _baseline(rev: str, folder: Path):
    """The module ``src/ned/render/appearance.py`` of the revision ``rev``."""
    text = subprocess.run(["git", "show", f"{rev}:src/ned/render/appearance.py"], cwd=ROOT,
                          check=True, capture_output=True, text=True).stdout
    path = folder / "appearance_baseline.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("appearance_baseline", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["appearance_baseline"] = module
    spec.loader.exec_module(module)
    return module


def _capture(clip: Path, emotion: str, out: Path) -> list:
    """(args, kwargs) of every shade_creases call of a default edit of ``clip``."""
    import copy

    import ned
    import ned.editing.renderers as renderers

    calls, shade = [], renderers.shade_creases

    def spy(*args, **kwargs):
        calls.append(copy.deepcopy((args, kwargs)))
        return shade(*args, **kwargs)

    renderers.shade_creases = spy
    try:
        ned.edit(clip, out, emotion=emotion)
    finally:
        renderers.shade_creases = shade
    return calls


def per_call(calls: list, old, new, repeats: int) -> dict:
    """Per-call times (ms) of both versions on the same arguments and their outputs'
    differences."""
    t_old = np.zeros((repeats, len(calls)))
    t_new = np.zeros((repeats, len(calls)))
    for r in range(repeats):
        for i, (args, kwargs) in enumerate(calls):
            order = ((old, t_old), (new, t_new)) if (r + i) % 2 else ((new, t_new), (old, t_old))
            for module, times in order:
                t = time.perf_counter()
                module.shade_creases(*args, **kwargs)
                times[r, i] = time.perf_counter() - t
    worst, means, shaded = 0, [], []
    for args, kwargs in calls:
        a, _ = old.shade_creases(args[0].copy(), *args[1:], **kwargs)
        b, _ = new.shade_creases(args[0].copy(), *args[1:], **kwargs)
        diff = np.abs(a.astype(int) - b.astype(int))
        worst = max(worst, int(diff.max()))
        means.append(float(diff.mean()))
        touched = np.any(a != args[0], axis=2)
        if touched.any():
            shaded.append(float(diff[touched].mean()))
    return {"old_min": t_old.min(0).mean() * 1e3, "new_min": t_new.min(0).mean() * 1e3,
            "old_median": np.median(t_old, 0).mean() * 1e3,
            "new_median": np.median(t_new, 0).mean() * 1e3, "max_diff": worst,
            "mean_diff": float(np.mean(means)),
            "mean_diff_shaded": float(np.mean(shaded)) if shaded else 0.0}


def whole_edit(clip: Path, emotion: str, old, new, n: int, folder: Path) -> dict:
    """Median seconds of ``ned.edit`` with the default cues and without, per version."""
    import ned
    import ned.editing.renderers as renderers

    current = renderers.shade_creases
    times: dict[tuple[str, str], list[float]] = {}
    try:
        for _ in range(n):
            for label, module in (("old", old), ("new", new)):
                renderers.shade_creases = module.shade_creases
                for cues_label, cues in (("cues", None), ("none", ())):
                    t = time.perf_counter()
                    ned.edit(clip, folder / "out.mp4", emotion=emotion, cues=cues)
                    times.setdefault((label, cues_label), []).append(time.perf_counter() - t)
    finally:
        renderers.shade_creases = current
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", default="8022b96",
                        help="the baseline revision of appearance.py")
    parser.add_argument("--clips", nargs="+", default=["single_face:angry", "carphone:surprised"],
                        help="tests/data clips and emotions, CLIP:EMOTION")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--edits", type=int, default=0,
                        help="time the whole edit of the first clip this many times")
    args = parser.parse_args()
    import ned.render.appearance as new

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        old = _baseline(args.rev, folder)
        for item in args.clips:
            name, emotion = item.split(":")
            clip = ROOT / "tests/data" / f"{name}.mp4"
            calls = _capture(clip, emotion, folder / "capture.mp4")
            r = per_call(calls, old, new, args.repeats)
            ratio = r["old_min"] / r["new_min"]
            print(f"{name} {emotion}: {len(calls)} calls; per call (min of {args.repeats}) "
                  f"{r['old_min']:.2f} -> {r['new_min']:.2f} ms (x{ratio:.2f}), "
                  f"median {r['old_median']:.2f} -> {r['new_median']:.2f} ms "
                  f"(x{r['old_median'] / r['new_median']:.2f}); output difference max "
                  f"{r['max_diff']}, mean {r['mean_diff']:.5f} (shaded pixels "
                  f"{r['mean_diff_shaded']:.5f}) grey levels", flush=True)
        if args.edits:
            name, emotion = args.clips[0].split(":")
            t = whole_edit(ROOT / "tests/data" / f"{name}.mp4", emotion, old, new, args.edits,
                           folder)
            for label in ("old", "new"):
                cues, none = t[(label, "cues")], t[(label, "none")]
                print(f"whole edit of {name} {emotion}, {label} creases (median of "
                      f"{args.edits}): default cues {cues:.2f} s, cues=() {none:.2f} s, "
                      f"cues add {100 * (cues / none - 1):.0f}%")


if __name__ == "__main__":
    main()
