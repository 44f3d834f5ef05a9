"""Quality benchmark: classifier check, evaluation speed, and the emotions protocol.

1. The emotion classifiers (faceapi, fer, ensemble) on the bundled clips: share of frames
   per predicted class, per segment and over the whole clip, and their speed.
2. Evaluation speed: ``ned.metrics.evaluate`` of each bundled clip against itself (all
   metrics, analyses included), with and without the identity embedder, in frames/s.
3. The self-translation protocol (paper Table 1 layout; each bundled clip translated to its
   own style, rows labelled by the classifier) and the emotions protocol (each bundled clip
   edited to all seven emotions with the default edit, then measured), when the edit
   pipeline and its default manipulator are installed.

Prints the tables and writes them between the ``quality`` markers of docs/evaluation.md
(``--no-docs`` to only print)::

    nice python benchmarks/quality.py [--segment 0.5] [--skip-protocol] [--no-docs]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIPS = [ROOT / "tests/data/single_face.mp4", ROOT / "tests/data/carphone.mp4"]
DOC = ROOT / "docs/evaluation.md"
BEGIN, END = "<!-- quality:begin -->", "<!-- quality:end -->"


def _fmt(fractions: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.0%}" for k, v in sorted(fractions.items(), key=lambda kv: -kv[1]))


def classifier_segments(seconds: float) -> str:
    """Per clip: share of frames per predicted class, whole clip and per segment, for every
    classifier; and each classifier's speed (crop + classify, analysis excluded)."""
    from ned.analysis import analyze
    from ned.metrics.emotion import CLASSIFIERS, DEFAULT_CLASSIFIER
    from ned.metrics.evaluate import classify_video, segment_fractions
    from ned.metrics.report import markdown_table

    out, speed_rows = [], []
    for clip in CLIPS:
        track = analyze(clip)
        per = {}
        for name in CLASSIFIERS:
            t0 = time.perf_counter()
            probs, _ = classify_video(clip, track, classifier=name)
            secs = time.perf_counter() - t0
            speed_rows.append([clip.name, name, track.n_frames, secs, track.n_frames / secs])
            per[name] = probs
        whole = {n: segment_fractions(p, track.timestamps, 1e9)[0]["fractions"]
                 for n, p in per.items()}
        segs = {n: segment_fractions(p, track.timestamps, seconds) for n, p in per.items()}
        rows = [[f"{s['start']:.2f}-{s['end']:.2f}", s["frames"],
                 *[_fmt(segs[n][i]["fractions"]) for n in CLASSIFIERS]]
                for i, s in enumerate(segs[CLASSIFIERS[0]])]
        rows.append(["whole clip", track.n_frames, *[_fmt(whole[n]) for n in CLASSIFIERS]])
        out.append(f"**{clip.name}** ({track.n_frames} frames; share of frames per predicted "
                   "class)\n\n" + markdown_table(["seconds", "frames", *CLASSIFIERS], rows))
    out.append(f"Default classifier: `{DEFAULT_CLASSIFIER}`. Classifier speed (crop and "
               "classify only, analysis excluded):\n\n"
               + markdown_table(["clip", "classifier", "frames", "seconds", "frames/s"],
                                speed_rows, "{:.2f}"))
    return "\n\n".join(out)


def speed() -> str:
    from ned.metrics import identity as idm
    from ned.metrics.evaluate import EvalConfig, evaluate
    from ned.metrics.report import markdown_table

    rows = []
    for clip in CLIPS:
        for use_id in ((True, False) if idm.available() else (False,)):
            r = evaluate(clip, clip, EvalConfig(identity=use_id))
            t = r.timing
            rows.append([clip.name, r.frames, "yes" if use_id else "no", t.seconds,
                         t.analysis_seconds, t.fps])
    return markdown_table(["clip", "frames", "identity", "seconds", "of which analysis",
                           "frames/s"], rows, "{:.2f}")


def _pipeline_missing() -> str | None:
    from ned.errors import NedError

    try:
        from ned.manipulator.infer import load_manipulator

        load_manipulator()
    except (ImportError, NedError) as e:
        return f"Not run: the default edit is not available here ({e})."
    return None


def self_translation() -> str:
    from ned.metrics import protocols
    from ned.metrics.report import markdown_table

    missing = _pipeline_missing()
    if missing:
        return missing
    with tempfile.TemporaryDirectory(prefix="ned-quality-") as d:
        res = protocols.self_translation([protocols.Clip(c) for c in CLIPS], Path(d), seed=0)
    labels = ", ".join(f"{Path(c['clip']).name}: {c['label']}" for c in res["clips"])
    return (f"Rows labelled by the classifier ({labels}); FID on dlib features; "
            f"{res['seconds']:.0f} s in all.\n\n" + markdown_table(res["header"], res["rows"]))


def protocol(intensity: float) -> str:
    from ned.metrics import protocols
    from ned.metrics.report import markdown_table

    missing = _pipeline_missing()
    if missing:
        return missing
    with tempfile.TemporaryDirectory(prefix="ned-quality-") as d:
        t0 = time.perf_counter()
        res = protocols.emotions([protocols.Clip(c) for c in CLIPS], Path(d), seed=0,
                                 intensity=intensity)
        secs = time.perf_counter() - t0
    conf = res["confusion"]
    return (f"{len(CLIPS)} clips x 7 emotions, intensity {intensity}, seed 0, "
            f"{secs:.0f} s in all. Accuracy: share of edited frames classified as the target; "
            "source acc.: the same share on the unedited source.\n\n"
            + markdown_table(res["header"], res["rows"])
            + "\n\nConfusion (rows: target, columns: predicted class of edited frames):\n\n"
            + markdown_table(["target", *conf["cols_predicted"]],
                             [[t, *map(str, c)] for t, c in zip(conf["rows_target"],
                                                                 conf["counts"])]))


def write_doc(text: str) -> None:
    doc = DOC.read_text() if DOC.exists() else f"# Evaluation\n\n{BEGIN}\n{END}\n"
    if BEGIN not in doc:
        doc += f"\n{BEGIN}\n{END}\n"
    new = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END),
                 lambda _: f"{BEGIN}\n{text}\n{END}", doc, flags=re.S)
    DOC.write_text(new)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segment", type=float, default=0.5, help="segment length, seconds")
    parser.add_argument("--intensity", type=float, default=1.0)
    parser.add_argument("--skip-protocol", action="store_true")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    parts = [f"Measured by `benchmarks/quality.py` on {stamp} (2-core CPU, shared).",
             "### Emotion classifiers on the bundled clips (per segment)",
             classifier_segments(args.segment),
             "### Evaluation speed (each clip against itself, all metrics)", speed()]
    if not args.skip_protocol:
        parts += ["### Self-translation protocol with the default edit", self_translation(),
                  "### Emotions protocol with the default edit", protocol(args.intensity)]
    text = "\n\n".join(parts)
    print(text)
    if not args.no_docs:
        write_doc(text)
        print(f"\nwrote {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
