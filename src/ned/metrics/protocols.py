"""Evaluation protocols over several clips, with the edit pipeline in the loop.

* ``self-translation`` (paper, Table 1): each clip is translated to its own style (the style
  encoder on the clip itself, via ``ned.pipeline.edit(clip, out, reference=clip)``) and
  compared with the original. Rows: the clip's emotion label (given as ``clip.mp4:happy``,
  else the majority class of our emotion classifier on the source); columns APD, FAPD, MAPD
  and FID (Frechet distance of identity features pooled over the row's frames).
* ``emotions``: each clip is edited to all seven emotions; per emotion we report the
  classifier's accuracy on the edited frames (and on the source, as a baseline), the speech
  correlations, the identity distance and FAPD, plus a target x predicted confusion matrix.

Each protocol writes ``table.csv``, ``table.json``, ``table.md`` and ``chart.png`` into its
output folder (edited clips under ``videos/``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ned.blendshapes import EMOTIONS
from ned.errors import NedError
from ned.metrics import identity as idm
from ned.metrics import report as rep
from ned.metrics.evaluate import EvalConfig, evaluate_detailed

#: Row order of the paper's Table 1.
PAPER_ORDER = ("neutral", "happy", "fear", "sad", "surprised", "angry", "disgusted")
PROTOCOLS = ("self-translation", "emotions")


@dataclass(frozen=True)
class Clip:
    """A protocol input: a video and, optionally, its known emotion label."""

    path: Path
    label: str | None = None

    @staticmethod
    def parse(text: str) -> Clip:
        """``path`` or ``path:label`` (label one of ``EMOTIONS``)."""
        path, _, label = text.rpartition(":") if ":" in text else (text, "", "")
        if label and label not in EMOTIONS:
            path, label = text, ""
        p = Path(path)
        if not p.is_file():
            raise NedError(f"no such clip: {p}")
        return Clip(p, label or None)


def _edit(clip: Path, out: Path, **kwargs: object) -> None:
    try:
        from ned.pipeline import edit
    except ImportError as e:  # the pipeline is another stage's package
        raise NedError(f"the edit pipeline is not available ({e})") from None
    edit(clip, out, **kwargs)


def _source_track(clip: Path, cfg: EvalConfig, progress: bool):
    from ned.pipeline import cached_track

    return cached_track(clip, use_cache=cfg.use_cache, progress=progress)


def _majority(probs: np.ndarray) -> str:
    ok = ~np.isnan(probs).any(1)
    if not ok.any():
        raise NedError("no face classified in the source clip")
    counts = np.bincount(probs[ok].argmax(1), minlength=len(EMOTIONS))
    return EMOTIONS[int(counts.argmax())]


def _mean(values: list) -> float | None:
    vals = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def self_translation(clips: list[Clip], out_dir: str | os.PathLike, *,
                     config: EvalConfig | None = None, seed: int = 0,
                     manipulator: str | None = None, progress: bool = False) -> dict:
    """The paper's self-translation protocol (see module doc). Returns the table as a dict
    and writes it (CSV, JSON, markdown, PNG) into ``out_dir``. ``manipulator``: a checkpoint
    for the edit (None = the shipped default)."""
    out, videos = _prepare(out_dir)
    cfg = config or EvalConfig()
    per_clip, pooled = [], {}
    t0 = time.perf_counter()
    for n, clip in enumerate(clips):
        edited = videos / f"{n:02d}_{clip.path.stem}_self.mp4"
        _edit(clip.path, edited, reference=clip.path, seed=seed, manipulator=manipulator,
              progress=progress)
        track = _source_track(clip.path, cfg, progress)
        report, arrays, _ = evaluate_detailed(clip.path, edited, replace(cfg, target=None),
                                              source_track=track, progress=progress)
        label = clip.label or _majority(arrays["source_probs"])
        per_clip.append({"clip": str(clip.path), "label": label,
                         "label_from": "given" if clip.label else "classifier",
                         "edited": str(edited), "report": _slim(report)})
        a, b = arrays["source_embeds"], arrays["edited_embeds"]
        ok = ~np.isnan(a).any(1) & ~np.isnan(b).any(1)
        pa, pb = pooled.setdefault(label, ([], []))
        pa.append(a[ok])
        pb.append(b[ok])
    rows = _self_rows(per_clip, pooled)
    header = ["emotion", "clips", "APD", "FAPD", "MAPD", "FID"]
    result = {"protocol": "self-translation", "manipulator": manipulator or "default",
              "classifier": cfg.classifier, "header": header, "rows": rows,
              "clips": per_clip, "seconds": time.perf_counter() - t0,
              "fid_features": "dlib 128-D face recognition" if idm.available() else None}
    _write(out, result, header, rows, "Self-translation (paper Table 1 layout)",
           {"APD": 2, "FAPD": 3, "MAPD": 4, "FID": 5})
    return result


def _self_rows(per_clip: list[dict], pooled: dict) -> list[list]:
    rows = []
    for emotion in PAPER_ORDER:
        items = [c for c in per_clip if c["label"] == emotion]
        if not items:
            continue
        px = [c["report"]["pixel"] for c in items]
        fid = None
        if emotion in pooled:
            a, b = np.concatenate(pooled[emotion][0]), np.concatenate(pooled[emotion][1])
            fid = idm.frechet_distance(a, b) if len(a) >= 2 and len(b) >= 2 else None
        rows.append([emotion, len(items), _mean([p["apd"] for p in px]),
                     _mean([p["fapd"] for p in px]), _mean([p["mapd"] for p in px]), fid])
    if rows:
        rows.append([f"avg. ({len(rows)})", sum(r[1] for r in rows),
                     *[_mean([r[k] for r in rows]) for k in range(2, 6)]])
    return rows


def emotions(clips: list[Clip], out_dir: str | os.PathLike, *,
             config: EvalConfig | None = None, intensity: float = 1.0, seed: int = 0,
             manipulator: str | None = None, progress: bool = False) -> dict:
    """Edit every clip to all seven emotions and measure each edit (see module doc).
    Returns the table as a dict and writes it into ``out_dir``."""
    out, videos = _prepare(out_dir)
    cfg = config or EvalConfig()
    per_edit = []
    confusion = np.zeros((len(EMOTIONS), len(EMOTIONS)), np.int64)
    t0 = time.perf_counter()
    for n, clip in enumerate(clips):
        track, cache = _source_track(clip.path, cfg, progress), None
        for emotion in EMOTIONS:
            edited = videos / f"{n:02d}_{clip.path.stem}_{emotion}.mp4"
            _edit(clip.path, edited, emotion=emotion, intensity=intensity, seed=seed,
                  manipulator=manipulator, progress=progress)
            report, arrays, cache = evaluate_detailed(
                clip.path, edited, replace(cfg, target=emotion), source_track=track,
                source_cache=cache, progress=progress)
            p = arrays["edited_probs"]
            p = p[~np.isnan(p).any(1)]
            confusion[EMOTIONS.index(emotion)] += np.bincount(p.argmax(1),
                                                              minlength=len(EMOTIONS))
            per_edit.append({"clip": str(clip.path), "emotion": emotion,
                             "edited": str(edited), "report": _slim(report)})
    header = ["emotion", "edits", "accuracy", "source acc.", "target prob", "jaw corr",
              "lip corr", "identity dist", "FAPD"]
    rows = _emotion_rows(per_edit)
    result = {"protocol": "emotions", "manipulator": manipulator or "default",
              "classifier": cfg.classifier, "intensity": intensity, "seed": seed, "header": header,
              "rows": rows, "confusion": {"rows_target": list(EMOTIONS),
                                          "cols_predicted": list(EMOTIONS),
                                          "counts": confusion.tolist()},
              "edits": per_edit, "seconds": time.perf_counter() - t0}
    _write(out, result, header, rows,
           f"Emotions protocol (intensity {intensity}, classifier {cfg.classifier})",
           {"emotion accuracy": {"edited": 2, "source": 3},
            "speech correlation": {"jawOpen": 5, "inner lip": 6},
            "identity distance": 7})
    return result


def _emotion_rows(per_edit: list[dict]) -> list[list]:
    rows = []
    for emotion in EMOTIONS:
        items = [e["report"] for e in per_edit if e["emotion"] == emotion]
        em = [r["emotion"] or {} for r in items]
        ident = [(r["identity"] or {}).get("distance_mean") for r in items]
        rows.append([emotion, len(items), _mean([e.get("target_fraction") for e in em]),
                     _mean([e.get("source_target_fraction") for e in em]),
                     _mean([e.get("target_prob_mean") for e in em]),
                     _mean([r["speech"]["jaw_corr"] for r in items]),
                     _mean([r["speech"]["lip_corr"] for r in items]), _mean(ident),
                     _mean([r["pixel"]["fapd"] for r in items])])
    rows.append(["avg.", sum(r[1] for r in rows),
                 *[_mean([r[k] for r in rows]) for k in range(2, len(rows[0]))]])
    return rows


def _prepare(out_dir: str | os.PathLike) -> tuple[Path, Path]:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NedError(f"output {out} exists and is not a folder")
    videos = out / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    return out, videos


def _slim(report: dict) -> dict:
    """A report without its per-frame series (kept small for the protocol JSON)."""
    return {k: v for k, v in report.items() if k not in ("per_frame", "config")}


def _write(out: Path, result: dict, header: list[str], rows: list[list], title: str,
           chart: dict[str, int | dict[str, int]]) -> None:
    rep.write_json(out / "table.json", result)
    rep.write_csv(out / "table.csv", header, rows)
    md = rep.markdown_table(header, rows)
    if "confusion" in result:
        conf = result["confusion"]["counts"]
        md += "\n\nConfusion (rows: target emotion, columns: predicted, edited frames):\n\n"
        md += rep.markdown_table(["target", *EMOTIONS],
                                 [[e, *map(str, c)] for e, c in zip(EMOTIONS, conf)])
    rep.write_text(out / "table.md", md + "\n")

    def column(i: int) -> list:
        return [r[i] for r in rows]

    series = {k: ({g: column(i) for g, i in v.items()} if isinstance(v, dict) else column(v))
              for k, v in chart.items()}
    rep.bar_chart(out / "chart.png", [r[0] for r in rows], series, title)
