"""Quality benchmark: classifier check, evaluation speed, and whether the edit shows each
emotion, keeps the speech and keeps the person.

1. The emotion classifiers (faceapi, fer, ensemble) on the bundled clips: share of frames
   per predicted class, per segment and over the whole clip, and their speed.
2. Evaluation speed: ``ned.metrics.evaluate`` of each bundled clip against itself (all
   metrics, analyses included), with and without the identity embedder, in frames/s.
3. The emotions protocol: each bundled clip (single_face.mp4, carphone.mp4) edited by
   ``ned.edit`` to each of the seven emotions (default options: intensity 1, seed 0), the
   output re-measured by the analyser, and per clip one table: the targeted channel groups'
   re-measured level against the target table (``ned.facs``; reached = within 25 %), the
   mouthSmile ceiling, the geometric measures standing in for mouthFrown / mouthPress /
   eyeWide, both classifiers' mean target probability on the source and on the edit and
   its rise (measurements only, never fed back), the speech figures (lip and jaw
   correlation, syllable amplitude ratio), the identity distance (dlib, when installed),
   the share of edited frames the edit cut back (from its ``EditReport``) and the
   seconds. Then a summary: how many of the six non-neutral emotions rise by >= 0.25 in
   target probability (better of the two classifiers), counting on each clip only targets
   whose source probability is < 0.5.

Prints the tables and writes them between the ``quality`` markers of docs/evaluation.md
(``--no-docs`` to only print; ``--json FILE`` also writes every figure as JSON)::

    nice python benchmarks/quality.py [--clips single_face carphone] [--emotions angry sad]
        [--json out.json] [--keep DIR] [--skip-protocol | --protocol-only] [--no-docs]

``--keep DIR`` keeps the edited clips as ``DIR/<clip>_<emotion>.mp4`` (what
``benchmarks/contact_sheets.py --from DIR`` reads).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIPS = [ROOT / "tests/data/single_face.mp4", ROOT / "tests/data/carphone.mp4"]
DOC = ROOT / "docs/evaluation.md"
BEGIN, END = "<!-- quality:begin -->", "<!-- quality:end -->"
EMOTION_ORDER = ("neutral", "angry", "disgusted", "fear", "happy", "sad", "surprised")
CLASSIFIERS = ("faceapi", "fer")
#: the summary's bar: a target probability rise of at least this, on targets whose source
#: probability is below SOURCE_BELOW
RISE, SOURCE_BELOW = 0.25, 0.5
#: the geometric measures shown per clip (the groups the analyser cannot see)
GEOMETRY = (("inner_brow_down", "browDown"), ("corners_down", "mouthFrown"),
            ("lips_thinned", "mouthPress"), ("upper_lid_up", "eyeWide"))
OK, NO = "✓", "✗"


def _fmt(fractions: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.0%}" for k, v in sorted(fractions.items(), key=lambda kv: -kv[1]))


def classifier_segments(clips: list[Path], seconds: float) -> str:
    """Per clip: share of frames per predicted class, whole clip and per segment, for every
    classifier; and each classifier's speed (crop + classify, analysis excluded)."""
    from ned.analysis import analyze
    from ned.metrics.emotion import CLASSIFIERS as ALL
    from ned.metrics.emotion import DEFAULT_CLASSIFIER
    from ned.metrics.evaluate import classify_video, segment_fractions
    from ned.metrics.report import markdown_table

    out, speed_rows = [], []
    for clip in clips:
        track = analyze(clip)
        per = {}
        for name in ALL:
            t0 = time.perf_counter()
            probs, _ = classify_video(clip, track, classifier=name)
            secs = time.perf_counter() - t0
            speed_rows.append([clip.name, name, track.n_frames, secs, track.n_frames / secs])
            per[name] = probs
        whole = {n: segment_fractions(p, track.timestamps, 1e9)[0]["fractions"]
                 for n, p in per.items()}
        segs = {n: segment_fractions(p, track.timestamps, seconds) for n, p in per.items()}
        rows = [[f"{s['start']:.2f}-{s['end']:.2f}", s["frames"],
                 *[_fmt(segs[n][i]["fractions"]) for n in ALL]]
                for i, s in enumerate(segs[ALL[0]])]
        rows.append(["whole clip", track.n_frames, *[_fmt(whole[n]) for n in ALL]])
        out.append(f"**{clip.name}** ({track.n_frames} frames; share of frames per predicted "
                   "class)\n\n" + markdown_table(["seconds", "frames", *ALL], rows))
    out.append(f"Default classifier: `{DEFAULT_CLASSIFIER}`. Classifier speed (crop and "
               "classify only, analysis excluded):\n\n"
               + markdown_table(["clip", "classifier", "frames", "seconds", "frames/s"],
                                speed_rows, "{:.2f}"))
    return "\n\n".join(out)


def speed(clips: list[Path]) -> str:
    from ned.metrics import identity as idm
    from ned.metrics.evaluate import EvalConfig, evaluate
    from ned.metrics.report import markdown_table

    rows = []
    for clip in clips:
        for use_id in ((True, False) if idm.available() else (False,)):
            r = evaluate(clip, clip, EvalConfig(identity=use_id))
            t = r.timing
            rows.append([clip.name, r.frames, "yes" if use_id else "no", t.seconds,
                         t.analysis_seconds, t.fps])
    return markdown_table(["clip", "frames", "identity", "seconds", "of which analysis",
                           "frames/s"], rows, "{:.2f}")


# --- the emotions protocol ------------------------------------------------------------


def _plain(value: object) -> object:
    """JSON-able form of an EditReport field (paths, enums, dicts of enums, lists)."""
    if isinstance(value, dict):
        return {str(getattr(k, "value", k)): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "value") and not isinstance(value, (int, float, str)):
        return value.value
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return str(value)


def edit_facts(report: object) -> dict:
    """What the EditReport says (every dataclass field that is there: the report is being
    extended), plus the derived cut-back figures:

    - ``edited_frames``: frames whose face was changed.
    - ``unfolded_share``: share of them whose edit was shrunk against mesh folds.
    - ``reached_mean``: mean fraction of the target shown over the edited frames, and
      ``cut_back_share``: share of edited frames showing less than the full target, when
      the report has a per-frame ``reached`` series (a single number is kept as is).
    - ``limited``: edited frames showing less than the target, by reason, when reported.
    """
    import dataclasses

    facts: dict = {}
    if dataclasses.is_dataclass(report):
        facts = {f.name: _plain(getattr(report, f.name)) for f in dataclasses.fields(report)}
    edited = int(getattr(report, "edited", 0) or 0)
    unfolded = getattr(report, "unfolded", 0) or 0
    facts["edited_frames"] = edited
    facts["unfolded_share"] = unfolded / edited if edited else None
    reached = getattr(report, "reached", None)
    if isinstance(reached, (list, tuple)) and reached:
        shown = [float(r) for r in reached if r and float(r) > 0]
        facts["reached_mean"] = sum(shown) / len(shown) if shown else None
        facts["cut_back_share"] = (sum(r < 0.999 for r in shown) / len(shown)
                                   if shown else None)
    elif isinstance(reached, (int, float)):
        facts["reached_mean"] = float(reached)
    limited = getattr(report, "limited", None)
    if isinstance(limited, dict):
        facts["limited"] = {str(getattr(k, "value", k)): int(v) for k, v in limited.items()}
    facts.pop("reached", None)  # the per-frame series is long; its summary is kept
    return facts


def _cut_back_cell(facts: dict | None) -> str:
    if not facts:
        return "-"
    parts = []
    if facts.get("cut_back_share") is not None:
        parts.append(f"{facts['cut_back_share']:.0%}")
    if facts.get("reached_mean") is not None:
        parts.append(f"reached {facts['reached_mean']:.2f}")
    if facts.get("unfolded_share") is not None:
        parts.append(f"folds {facts['unfolded_share']:.0%}")
    why = {k: v for k, v in (facts.get("limited") or {}).items() if v}
    if why:
        parts.append("(" + ", ".join(f"{k} {v}" for k, v in why.items()) + ")")
    return " ".join(parts) or "-"


def _prob_cell(c: dict | None) -> str:
    if not c or c.get("source") is None or c.get("edited") is None:
        return "-"
    return f"{c['source']:.2f} → {c['edited']:.2f} ({c['rise']:+.3f})"


def _num(v: float | None, fmt: str = "{:.3f}") -> str:
    return "-" if v is None else fmt.format(v)


def _groups_cell(expr: dict) -> str:
    cells = []
    for g, s in expr["groups"].items():
        if s["targeted"]:
            mark = OK if s["reached"] else NO
            cells.append(f"{g} {_num(s['edited'], '{:.2f}')}/{s['target']:.2f} {mark}")
    return "; ".join(cells) or "(none named)"


def _ceiling_cell(expr: dict) -> str:
    cells = []
    for g, s in expr["groups"].items():
        if s["ceiling"] is not None:
            mark = OK if s["within_ceiling"] else NO
            cells.append(f"{g} {_num(s['edited'], '{:.2f}')} ≤ {s['ceiling']:.2f} {mark}")
    return "; ".join(cells) or "-"


def _geometry_cell(expr: dict, measure: str) -> str:
    g = expr["geometric"][measure]
    text = _num(g["change"], "{:+.3f}")
    if g["floor"] is not None:
        text += f" ≥ {g['floor']:.2f} {OK if g['reached'] else NO}"
    return text


def source_caches(clip: Path, track, identity_stride: int) -> dict:
    """The source's per-frame results, computed once per clip: each classifier's
    probabilities (``classify_video``) and, when dlib is installed, the identity embeddings
    of every ``identity_stride``-th face frame; classifier -> ``SourceCache`` for
    ``evaluate_detailed`` (the first classifier's with the embeddings)."""
    import numpy as np

    from ned.io.video import read_frames
    from ned.metrics import identity as idm
    from ned.metrics.evaluate import SourceCache, classify_video

    embeds = np.full((track.n_frames, idm.EMBEDDING_DIM), np.nan, np.float32)
    use_id = idm.available()
    if use_id:
        embedder = idm.DlibEmbedder()
        for frame in read_frames(clip):
            i = frame.index
            if i < track.n_frames and track.valid[i] and i % identity_stride == 0:
                embeds[i] = embedder.embed(frame.image, track.landmarks[i])
    caches = {}
    for n, name in enumerate(CLASSIFIERS):
        probs, _ = classify_video(clip, track, classifier=name)
        caches[name] = SourceCache(probs, embeds, identity_stride, use_id and n == 0, name)
    return caches


def source_probability(caches: dict, emotion: str) -> dict[str, float | None]:
    """classifier -> mean target probability over the source's classified frames."""
    import numpy as np

    from ned.blendshapes import EMOTIONS

    out = {}
    for name, cache in caches.items():
        p = cache.probs[~np.isnan(cache.probs).any(1), EMOTIONS.index(emotion)]
        out[name] = float(p.mean()) if len(p) else None
    return out


def measure_edit(clip: Path, edited: Path, emotion: str, source_track, caches: dict,
                 identity_stride: int) -> dict:
    """Re-measure one edit: analyse the edited clip once, evaluate it with both classifiers
    (the source's per-frame results from ``caches``: classifier -> SourceCache), identity
    with the first only."""
    from ned.analysis import analyze
    from ned.metrics.evaluate import EvalConfig, evaluate_detailed

    t0 = time.perf_counter()
    edt = analyze(edited)
    t_analysis = time.perf_counter() - t0
    reports = {}
    for n, name in enumerate(CLASSIFIERS):
        cfg = EvalConfig(target=emotion, classifier=name, identity=None if n == 0 else False,
                         identity_stride=identity_stride)
        rep, _, _ = evaluate_detailed(clip, edited, cfg, source_track=source_track,
                                      edited_track=edt, source_cache=caches[name])
        reports[name] = rep
    first = reports[CLASSIFIERS[0]]
    classifiers = {}
    for name, rep in reports.items():
        e = rep.emotion
        src, edt_p = e.source_target_prob_mean, e.target_prob_mean
        classifiers[name] = {"source": src, "edited": edt_p,
                             "rise": (edt_p - src) if src is not None and edt_p is not None
                             else None,
                             "source_fraction": e.source_target_fraction,
                             "edited_fraction": e.target_fraction}
    sp = first.speech
    return {"expression": first.expression.to_json(), "classifiers": classifiers,
            "speech": {"lip_corr": sp.lip_corr, "jaw_corr": sp.jaw_corr,
                       "syllable_ratio": sp.syllable_ratio, "mouth_error": sp.mouth_error},
            "identity": (first.identity.distance_mean if first.identity is not None else None),
            "pixel": {"fapd": first.pixel.fapd, "outside_apd": first.pixel.outside_apd},
            "seconds_measure": time.perf_counter() - t0, "seconds_analysis": t_analysis}


def run_protocol(clips: list[Path], emotions: list[str], intensity: float, seed: int,
                 identity_stride: int, keep: Path | None,
                 cues: tuple[str, ...] | None = None) -> list[dict]:
    """Edit and measure every clip x emotion; one dict per edit (``error`` set when the edit
    or its measurement failed: the row is reported and the run goes on)."""
    import ned
    from ned.analysis.cache import cached_track

    rows = []
    with tempfile.TemporaryDirectory(prefix="ned-quality-") as tmp:
        out_dir = keep or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        for clip in clips:
            source_track = cached_track(clip)
            caches = source_caches(clip, source_track, identity_stride)
            for emotion in emotions:
                row: dict = {"clip": clip.stem, "emotion": emotion, "error": None,
                             "source_probability": source_probability(caches, emotion)}
                out = out_dir / f"{clip.stem}_{emotion}.mp4"
                t0 = time.perf_counter()
                try:
                    report = ned.edit(clip, out, emotion=emotion, intensity=intensity,
                                      seed=seed, cues=cues)
                    row["seconds_edit"] = time.perf_counter() - t0
                    row["edit"] = edit_facts(report)
                    row |= measure_edit(clip, out, emotion, source_track, caches,
                                        identity_stride)
                except Exception as e:  # report the row and go on
                    row["error"] = f"{type(e).__name__}: {e}".splitlines()[0][:200]
                    row.setdefault("seconds_edit", time.perf_counter() - t0)
                    traceback.print_exc(file=sys.stderr)
                row["seconds"] = time.perf_counter() - t0
                print(f"{clip.stem} {emotion}: {row['seconds']:.0f} s"
                      + (f" ({row['error']})" if row["error"] else ""), file=sys.stderr)
                rows.append(row)
    return rows


def clip_table(rows: list[dict]) -> str:
    """One clip's table: a row per emotion."""
    from ned.metrics.report import markdown_table

    header = ["emotion", "targeted groups (re-measured / target, ✓ within 25 %)",
              "ceiling", *[f"{m} ({g}, IOD)" for m, g in GEOMETRY], "table",
              *[f"{c} P(target) src → edit (rise)" for c in CLASSIFIERS],
              "lip r", "jaw r", "syllable ratio", "identity", "cut back", "s"]
    out = []
    for r in rows:
        if r["error"]:
            out.append([r["emotion"], f"failed: {r['error']}", *["-"] * (len(header) - 3),
                        f"{r['seconds']:.0f}"])
            continue
        x, sp = r["expression"], r["speech"]
        out.append([r["emotion"], _groups_cell(x), _ceiling_cell(x),
                    *[_geometry_cell(x, m) for m, _ in GEOMETRY],
                    "-" if x["passed"] is None else OK if x["passed"] else NO,
                    *[_prob_cell(r["classifiers"].get(c)) for c in CLASSIFIERS],
                    _num(sp["lip_corr"]), _num(sp["jaw_corr"]),
                    _num(sp["syllable_ratio"], "{:.2f}"), _num(r["identity"]),
                    _cut_back_cell(r.get("edit")), f"{r['seconds']:.0f}"])
    return markdown_table(header, out)


def best_rise(row: dict) -> tuple[float | None, str | None, bool]:
    """(rise, classifier, counted): the larger target-probability rise of the classifiers
    whose source probability is below SOURCE_BELOW; counted False when neither is."""
    best, name = None, None
    for c, v in (row.get("classifiers") or {}).items():
        if v["source"] is None or v["rise"] is None or v["source"] >= SOURCE_BELOW:
            continue
        if best is None or v["rise"] > best:
            best, name = v["rise"], c
    return best, name, best is not None


def summary(rows: list[dict], clips: list[str]) -> tuple[str, dict]:
    """The 6 non-neutral emotions x clips: the better classifier's rise, whether it counts
    (source probability < 0.5 for at least one classifier) and reaches RISE."""
    from ned.metrics.report import markdown_table

    emotions = [e for e in EMOTION_ORDER if e != "neutral"
                and any(r["emotion"] == e for r in rows)]
    by = {(r["clip"], r["emotion"]): r for r in rows}
    table, figures = [], {}
    counted = risen = 0
    per_clip = {c: [0, 0] for c in clips}
    for e in emotions:
        cells = [e]
        for c in clips:
            r = by.get((c, e))
            if r is None:
                cells.append("-")
                continue
            if r["error"]:  # a failed edit counts as not risen where its target counts
                ok = any(v is not None and v < SOURCE_BELOW
                         for v in r["source_probability"].values())
                cells.append("edit failed" + ("" if ok else " (not counted)"))
                figures[f"{c}/{e}"] = {"rise": None, "classifier": None, "counted": ok,
                                       "risen": False}
                counted += ok
                per_clip[c][1] += ok
                continue
            rise, name, ok = best_rise(r)
            srcs = ", ".join(f"{k} {v['source']:.2f}" for k, v in r["classifiers"].items()
                             if v["source"] is not None)
            if not ok:
                cells.append(f"not counted (source {srcs})")
            else:
                hit = rise >= RISE
                counted += 1
                risen += hit
                per_clip[c][0] += hit
                per_clip[c][1] += 1
                cells.append(f"{rise:+.3f} ({name}) {OK if hit else NO}")
            figures[f"{c}/{e}"] = {"rise": rise, "classifier": name, "counted": ok,
                                   "risen": bool(ok and rise >= RISE)}
        table.append(cells)
    head = (f"**{risen} of {counted}** counted targets rise by >= {RISE} in mean target "
            "probability (better of faceapi and fer; a target counts on a clip when a "
            f"classifier gives it a source probability < {SOURCE_BELOW}, and only those "
            "classifiers are compared): "
            + ", ".join(f"{c} {a} of {b}" for c, (a, b) in per_clip.items()) + ".")
    text = head + "\n\n" + markdown_table(["emotion", *clips], table)
    return text, {"risen": risen, "counted": counted,
                  "per_clip": {c: {"risen": a, "counted": b} for c, (a, b) in per_clip.items()},
                  "figures": figures}


def protocol(clips: list[Path], emotions: list[str], intensity: float, seed: int,
             identity_stride: int, keep: Path | None,
             cues: tuple[str, ...] | None = None) -> tuple[str, dict]:
    from ned.metrics import identity as idm

    t0 = time.perf_counter()
    rows = run_protocol(clips, emotions, intensity, seed, identity_stride, keep, cues)
    secs = time.perf_counter() - t0
    parts = [f"{len(clips)} clip(s) x {len(emotions)} emotion(s), `ned.edit` with default "
             f"options (intensity {intensity}, seed {seed}), {secs:.0f} s in all. Levels: "
             "the analyser's re-measured mean over the frames with a face in both clips; ✓ "
             "when at least 75 % of the target (`ned.facs.TARGETS`). Geometric measures: "
             "mean change edited - source in inter-ocular distances, with the floor "
             "(`ned.facs.GEOMETRIC_FLOORS`) where the emotion names the group. table: every "
             "targeted group shown (level, or its geometric floor) and every ceiling kept. "
             "Identity: dlib distance"
             + ("" if idm.available() else " (not installed here)")
             + ". cut back: share of edited frames showing less than the full target, mean "
             "share of the target shown, share shrunk against folds (from the "
             "`EditReport`)."]
    for clip in clips:
        mine = [r for r in rows if r["clip"] == clip.stem]
        parts.append(f"**{clip.name}**\n\n" + clip_table(mine))
    text, summ = summary(rows, [c.stem for c in clips])
    parts += ["#### Summary: does the classifier see the emotion rise?", text]
    return "\n\n".join(parts), {"rows": rows, "summary": summ, "seconds": secs}


def write_doc(text: str) -> None:
    doc = DOC.read_text() if DOC.exists() else f"# Evaluation\n\n{BEGIN}\n{END}\n"
    if BEGIN not in doc:
        doc += f"\n{BEGIN}\n{END}\n"
    new = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END),
                 lambda _: f"{BEGIN}\n{text}\n{END}", doc, flags=re.S)
    DOC.write_text(new)


def _pick_clips(names: list[str] | None) -> list[Path]:
    if not names:
        return CLIPS
    by = {c.stem: c for c in CLIPS}
    picked = []
    for n in names:
        stem = Path(n).stem
        if stem in by:
            picked.append(by[stem])
        elif Path(n).is_file():
            picked.append(Path(n))
        else:
            raise SystemExit(f"unknown clip {n!r}; bundled: {', '.join(by)}")
    return picked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segment", type=float, default=0.5, help="segment length, seconds")
    parser.add_argument("--intensity", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clips", nargs="+", metavar="CLIP",
                        help="bundled clip names (single_face, carphone) or video files")
    parser.add_argument("--emotions", nargs="+", choices=EMOTION_ORDER, metavar="EMOTION",
                        help=f"subset of {', '.join(EMOTION_ORDER)}")
    parser.add_argument("--identity-stride", type=int, default=1,
                        help="embed every n-th frame for the identity distance")
    parser.add_argument("--keep", type=Path, help="keep the edited clips in this folder")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parts_group = parser.add_mutually_exclusive_group()
    parts_group.add_argument("--skip-protocol", action="store_true")
    parts_group.add_argument("--protocol-only", action="store_true",
                             help="skip the classifier and evaluation-speed parts")
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--cues", help="appearance cues of the edit (comma-separated out of "
                        "creases, interior, eyes, or 'none'; default creases,eyes): for ablations")
    args = parser.parse_args(argv)
    from ned.editing.config import parse_cues

    cues = None if args.cues is None else parse_cues(args.cues)
    import torch

    torch.set_num_threads(1)
    clips = _pick_clips(args.clips)
    emotions = [e for e in EMOTION_ORDER if e in (args.emotions or EMOTION_ORDER)]
    t0 = time.perf_counter()
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    parts = [f"Measured by `benchmarks/quality.py` on {stamp} (2-core CPU, shared)."]
    data: dict = {"date": stamp, "clips": [c.name for c in clips], "emotions": emotions,
                  "intensity": args.intensity, "seed": args.seed}
    if not args.protocol_only:
        parts += ["### Emotion classifiers on the bundled clips (per segment)",
                  classifier_segments(clips, args.segment),
                  "### Evaluation speed (each clip against itself, all metrics)", speed(clips)]
    if not args.skip_protocol:
        text, result = protocol(clips, emotions, args.intensity, args.seed,
                                args.identity_stride, args.keep, cues)
        data["cues"] = list(cues) if cues is not None else "default"
        parts += ["### Emotions: shown, speech kept, person kept (default edit)", text]
        data |= result
    data["seconds_total"] = time.perf_counter() - t0
    parts.append(f"Benchmark time: {data['seconds_total']:.0f} s.")
    text = "\n\n".join(parts)
    data["markdown"] = text
    print(text)
    if args.json:
        from ned.metrics.report import write_json

        write_json(args.json, data)
        print(f"\nwrote {args.json}", file=sys.stderr)
    if not args.no_docs:
        write_doc(text)
        print(f"\nwrote {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
