"""Printing and writing evaluation results: text tables, JSON, CSV and PNG charts.

Every file is written to a temporary name and renamed (``ned.atomic``), so no half-written
output is left.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ned.atomic import atomic_write, write_text
from ned.metrics.jsonable import clean

if TYPE_CHECKING:
    from ned.metrics.evaluate import EvaluationReport
    from ned.metrics.expression import ExpressionScores

__all__ = ["PAIR_ROWS", "bar_chart", "clean", "expression_lines", "grid_table",
           "markdown_table", "pair_table", "write_csv", "write_json", "write_text"]

#: (section, attribute, label, format) rows of the single-pair table: the value is
#: ``getattr(getattr(report, section), attribute)`` of an ``EvaluationReport``.
PAIR_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("pixel", "apd", "APD (RGB L2, 0-255)", "{:.3f}"),
    ("pixel", "fapd", "FAPD (face mask)", "{:.3f}"),
    ("pixel", "mapd", "MAPD (72x72 mouth box @256)", "{:.3f}"),
    ("pixel", "face_psnr", "face PSNR (dB, cap 100)", "{:.2f}"),
    ("pixel", "face_ssim", "face SSIM", "{:.4f}"),
    ("pixel", "outside_apd", "outside-face APD", "{:.3f}"),
    ("pixel", "outside_changed", "outside-face pixels changed", "{:.2%}"),
    ("identity", "distance_mean", "identity distance (dlib, mean)", "{:.4f}"),
    ("identity", "distance_max", "identity distance (max)", "{:.4f}"),
    ("identity", "frechet", "Frechet distance (dlib features)", "{:.4f}"),
    ("speech", "jaw_corr", "jawOpen correlation", "{:.4f}"),
    ("speech", "lip_corr", "inner-lip opening correlation", "{:.4f}"),
    ("speech", "syllable_ratio", "syllable amplitude ratio (edited/source)", "{:.3f}"),
    ("speech", "mouth_error", "mouth landmark error (/IOD)", "{:.4f}"),
    ("speech", "mouth_error_px", "mouth landmark error (px)", "{:.3f}"),
    ("temporal", "jitter_source", "landmark jitter, source (/IOD)", "{:.5f}"),
    ("temporal", "jitter_edited", "landmark jitter, edited (/IOD)", "{:.5f}"),
    ("temporal", "jitter_ratio", "jitter ratio (edited/source)", "{:.3f}"),
    ("emotion", "target_fraction", "frames classified as target", "{:.2%}"),
    ("emotion", "target_prob_mean", "mean target probability", "{:.3f}"),
    ("emotion", "source_target_fraction", "  (source, for comparison)", "{:.2%}"),
)


def write_json(path: str | os.PathLike, data: object) -> Path:
    """Write ``data`` as indented strict JSON (NaN -> null), atomically."""
    return write_text(path, json.dumps(clean(data), indent=2, allow_nan=False) + "\n")


def write_csv(path: str | os.PathLike, header: Sequence[str],
              rows: Sequence[Sequence[object]]) -> Path:
    """Write a CSV file atomically (None -> empty cell)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow(["" if v is None else (f"{v:.6g}" if isinstance(v, float) else v)
                    for v in r])
    return write_text(path, buf.getvalue())


def _fmt(value: object, fmt: str) -> str:
    if value is None:
        return "n/a"
    return fmt.format(value)


def pair_table(report: EvaluationReport) -> str:
    """The single-pair report as an aligned two-column text table: a header (clips, size,
    target), one line per ``PAIR_ROWS`` row (identity rows as one "n/a" line without
    identity, emotion rows only with a target), the class shares and per-segment dominant
    classes when the classifier ran, the expression section's main rows with a target
    (:func:`expression_lines`), and the timing."""
    lines = [f"source: {report.source}", f"edited: {report.edited}",
             f"frames: {report.frames} ({report.width}x{report.height}, "
             f"{report.fps:.2f} fps), target: {report.target or 'none'}"]
    width = max(len(r[2]) for r in PAIR_ROWS)
    for section, attr, label, fmt in PAIR_ROWS:
        block = getattr(report, section)
        if block is None:
            if section == "identity" and attr == "distance_mean":
                lines.append(f"{label:<{width}}  n/a (identity extra not installed)")
            continue
        if section == "emotion" and block.target is None:
            continue  # the emotion rows are about the target
        lines.append(f"{label:<{width}}  {_fmt(getattr(block, attr), fmt)}")
    emo = report.emotion
    if emo is not None:
        for key, fractions in (("source", emo.source_fraction), ("edited", emo.edited_fraction)):
            fr = {k: v for k, v in fractions.items() if v}
            lines.append(f"{key} frames per class: " + (", ".join(
                f"{k} {v:.0%}" for k, v in sorted(fr.items(), key=lambda kv: -kv[1])) or "n/a"))
        lines.append("emotion per segment (source -> edited, dominant class"
                     + (f", classifier {emo.classifier}):" if emo.classifier else "):"))
        for s in emo.segments:
            lines.append(f"  {s.start:6.2f}-{s.end:6.2f} s  {s.source or '-':>9} -> "
                         f"{s.edited or '-'}")
    if report.expression is not None:
        lines += expression_lines(report.expression)
    t = report.timing
    lines.append(f"evaluated in {t.seconds:.1f} s ({t.fps:.2f} frames/s)")
    return "\n".join(lines)


def _yes(flag: bool | None, yes: str = "reached", no: str = "NOT reached") -> str:
    return "n/a" if flag is None else yes if flag else no


def expression_lines(expr: ExpressionScores) -> list[str]:
    """The expression section's main rows: one line per targeted group (source -> edited
    mean level, the target and whether it is reached within 25 %, the geometric stand-in
    where the analyser cannot see the group), one per ceiling, and the geometric changes."""
    head = (f"expression vs target table ({expr.target}, {expr.frames} frames): "
            + _yes(expr.passed, "passed", "NOT passed"))
    lines = [head]
    width = max((len(g) for g in expr.groups), default=0)
    for g, sc in expr.groups.items():
        if sc.targeted:
            line = (f"  {g:<{width}}  {_fmt(sc.source, '{:.3f}')} -> {_fmt(sc.edited, '{:.3f}')}"
                    f"  target {sc.target:.2f}: {_yes(sc.reached)}")
            if sc.geometric is not None:
                gs = expr.geometric[sc.geometric]
                line += (f"; {sc.geometric} {_fmt(gs.change, '{:+.4f}')} IOD (floor "
                         f"{_fmt(gs.floor, '{:.3f}')}): {_yes(gs.reached)}")
            lines.append(line)
    for g, sc in expr.groups.items():
        if sc.ceiling is not None:
            lines.append(f"  {g:<{width}}  {_fmt(sc.source, '{:.3f}')} -> "
                         f"{_fmt(sc.edited, '{:.3f}')}  ceiling {sc.ceiling:.2f}: "
                         + _yes(sc.within_ceiling, "kept", "EXCEEDED"))
    lines.append("  geometric change (IOD): " + ", ".join(
        f"{m} {_fmt(gs.change, '{:+.4f}')}" for m, gs in expr.geometric.items()))
    return lines


def grid_table(header: Sequence[str], rows: Sequence[Sequence[object]], fmt: str = "{:.3f}"
               ) -> str:
    """A plain aligned text table (floats formatted with ``fmt``, None as '-')."""
    cells = [[str(h) for h in header]]
    for r in rows:
        cells.append([("-" if v is None else fmt.format(v) if isinstance(v, float) else str(v))
                      for v in r])
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths))) for row in cells)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]],
                   fmt: str = "{:.3f}") -> str:
    """A GitHub markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        out.append("| " + " | ".join("-" if v is None else fmt.format(v)
                                     if isinstance(v, float) else str(v) for v in r) + " |")
    return "\n".join(out)


def bar_chart(path: str | os.PathLike, labels: Sequence[str],
              series: dict[str, Sequence[float | None] | dict[str, Sequence[float | None]]],
              title: str) -> Path:
    """One panel per series, bars per label (a dict value draws grouped bars with a legend);
    written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    n = len(series)
    fig, axes = plt.subplots(1, n, figsize=(3.8 * n, 3.5), squeeze=False)
    x = np.arange(len(labels))
    for ax, (name, values) in zip(axes[0], series.items()):
        groups = values if isinstance(values, dict) else {name: values}
        width = 0.8 / len(groups)
        for k, (gname, vals) in enumerate(groups.items()):
            v = [float("nan") if e is None else float(e) for e in vals]
            ax.bar(x - 0.4 + width * (k + 0.5), v, width, label=gname)
        if len(groups) > 1:
            ax.legend(fontsize=7, framealpha=0.7)
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=8)
        ax.set_title(name, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    try:
        with atomic_write(path) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    finally:
        plt.close(fig)
    return Path(path)
