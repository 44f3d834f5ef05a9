"""Evaluation protocols over several clips, with the edit pipeline in the loop.

* ``self-translation`` (paper, Table 1): each clip is translated to its own style (the style
  encoder on the clip itself, via ``ned.edit(clip, out, reference=clip)``) and
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

from ned.analysis.cache import cached_track
from ned.blendshapes import EMOTIONS
from ned.editing.api import edit
from ned.errors import NedError
from ned.metrics import identity as idm
from ned.metrics import report as rep
from ned.metrics.evaluate import EvalConfig, EvaluationReport, evaluate_detailed
from ned.records import FaceTrack

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


def _source_track(clip: Path, cfg: EvalConfig, progress: bool) -> FaceTrack:
    return cached_track(clip, use_cache=cfg.use_cache, progress=progress)


def _majority(probs: np.ndarray) -> str:
    ok = ~np.isnan(probs).any(1)
    if not ok.any():
        raise NedError("no face classified in the source clip")
    counts = np.bincount(probs[ok].argmax(1), minlength=len(EMOTIONS))
    return EMOTIONS[int(counts.argmax())]


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def self_translation(clips: list[Clip], out_dir: str | os.PathLike, *,
                     config: EvalConfig | None = None, seed: int = 0,
                     manipulator: str | None = None, progress: bool = False) -> dict:
    """The paper's self-translation protocol (see module doc). Returns the table as a dict
    and writes it (CSV, JSON, markdown, PNG) into ``out_dir``. ``manipulator``: a checkpoint
    for the edit (None = the shipped default).

    Returns:
        ``protocol``, ``manipulator``, ``classifier``, ``header`` and ``rows`` (one per
        label in ``PAPER_ORDER`` that occurs, then the average), ``clips`` (per clip: clip,
        label, label_from, edited and its report's JSON without per-frame series and
        config), ``seconds`` and ``fid_features``.
    """
    out, videos = _prepare(out_dir)
    cfg = config or EvalConfig()
    per_clip: list[dict] = []
    labelled: list[tuple[str, EvaluationReport]] = []
    pooled: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
    t0 = time.perf_counter()
    for n, clip in enumerate(clips):
        edited = videos / f"{n:02d}_{clip.path.stem}_self.mp4"
        edit(clip.path, edited, reference=clip.path, seed=seed, manipulator=manipulator,
             progress=progress)
        track = _source_track(clip.path, cfg, progress)
        report, arrays, _ = evaluate_detailed(clip.path, edited, replace(cfg, target=None),
                                              source_track=track, progress=progress)
        label = clip.label or _majority(arrays["source_probs"])
        per_clip.append({"clip": str(clip.path), "label": label,
                         "label_from": "given" if clip.label else "classifier",
                         "edited": str(edited), "report": _slim(report)})
        labelled.append((label, report))
        a, b = arrays["source_embeds"], arrays["edited_embeds"]
        ok = ~np.isnan(a).any(1) & ~np.isnan(b).any(1)
        pa, pb = pooled.setdefault(label, ([], []))
        pa.append(a[ok])
        pb.append(b[ok])
    rows = _self_rows(labelled, pooled)
    header = ["emotion", "clips", "APD", "FAPD", "MAPD", "FID"]
    result = {"protocol": "self-translation", "manipulator": manipulator or "default",
              "classifier": cfg.classifier, "header": header, "rows": rows,
              "clips": per_clip, "seconds": time.perf_counter() - t0,
              "fid_features": "dlib 128-D face recognition" if idm.available() else None}
    _write(out, result, header, rows, "Self-translation (paper Table 1 layout)",
           {"APD": 2, "FAPD": 3, "MAPD": 4, "FID": 5})
    return result


def _self_rows(labelled: list[tuple[str, EvaluationReport]],
               pooled: dict[str, tuple[list[np.ndarray], list[np.ndarray]]]) -> list[list]:
    """Table rows from (label, report) per clip and the (N, 128) embeddings per label."""
    rows = []
    for emotion in PAPER_ORDER:
        px = [r.pixel for label, r in labelled if label == emotion]
        if not px:
            continue
        fid = None
        if emotion in pooled:
            a, b = np.concatenate(pooled[emotion][0]), np.concatenate(pooled[emotion][1])
            fid = idm.frechet_distance(a, b) if len(a) >= 2 and len(b) >= 2 else None
        rows.append([emotion, len(px), _mean([p.apd for p in px]),
                     _mean([p.fapd for p in px]), _mean([p.mapd for p in px]), fid])
    if rows:
        rows.append([f"avg. ({len(rows)})", sum(r[1] for r in rows),
                     *[_mean([r[k] for r in rows]) for k in range(2, 6)]])
    return rows


def emotions(clips: list[Clip], out_dir: str | os.PathLike, *,
             config: EvalConfig | None = None, intensity: float = 1.0, seed: int = 0,
             manipulator: str | None = None, progress: bool = False) -> dict:
    """Edit every clip to all seven emotions and measure each edit (see module doc).
    Returns the table as a dict and writes it into ``out_dir``.

    Returns:
        ``protocol``, ``manipulator``, ``classifier``, ``intensity``, ``seed``, ``header``
        and ``rows`` (one per emotion, then the average), ``confusion`` (7x7 counts of
        edited frames, rows target, columns predicted), ``edits`` (per edit: clip, emotion,
        edited and its report's JSON without per-frame series and config) and ``seconds``.
    """
    out, videos = _prepare(out_dir)
    cfg = config or EvalConfig()
    per_edit: list[dict] = []
    targeted: list[tuple[str, EvaluationReport]] = []
    confusion = np.zeros((len(EMOTIONS), len(EMOTIONS)), np.int64)
    t0 = time.perf_counter()
    for n, clip in enumerate(clips):
        track, cache = _source_track(clip.path, cfg, progress), None
        for emotion in EMOTIONS:
            edited = videos / f"{n:02d}_{clip.path.stem}_{emotion}.mp4"
            edit(clip.path, edited, emotion=emotion, intensity=intensity, seed=seed,
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
            targeted.append((emotion, report))
    header = ["emotion", "edits", "accuracy", "source acc.", "target prob", "jaw corr",
              "lip corr", "identity dist", "FAPD"]
    rows = _emotion_rows(targeted)
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


def _emotion_rows(targeted: list[tuple[str, EvaluationReport]]) -> list[list]:
    """Table rows from (target emotion, report) per edit."""
    rows = []
    for emotion in EMOTIONS:
        items = [r for target, r in targeted if target == emotion]
        em = [r.emotion for r in items if r.emotion is not None]
        ident = [r.identity.distance_mean for r in items if r.identity is not None]
        rows.append([emotion, len(items), _mean([e.target_fraction for e in em]),
                     _mean([e.source_target_fraction for e in em]),
                     _mean([e.target_prob_mean for e in em]),
                     _mean([r.speech.jaw_corr for r in items]),
                     _mean([r.speech.lip_corr for r in items]), _mean(ident),
                     _mean([r.pixel.fapd for r in items])])
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


def _slim(report: EvaluationReport) -> dict:
    """The report's JSON without its per-frame series and config (kept small for the
    protocol JSON)."""
    return {k: v for k, v in report.to_json().items() if k not in ("per_frame", "config")}


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
