"""Dataset builders: analyse every video of a MEAD or Aff-Wild2 tree into FaceTracks
(in parallel worker processes, with a progress bar, skipping videos already analysed) and
write a labels file for :class:`ned.manipulator.data.SequenceDataset`.

MEAD layout (as distributed)::

    <root>/<actor>/video/front/<emotion>/level_<n>/<clip>.mp4

emotions angry, contempt, disgusted, fear, happy, neutral, sad, surprised; contempt is
dropped (not one of the 7 domains); neutral exists only at level_1, so it is taken from
level_1 whatever ``level`` says, as the reference did.

Aff-Wild2 layout (ABAW expression track)::

    <root>/videos/**/<name>.mp4|.avi
    <root>/annotations/**/<name>.txt   (a header line "Neutral,Anger,Disgust,Fear,
                                        Happiness,Sadness,Surprise,Other", then one integer
                                        per frame: 0-7, -1 = unannotated)

Aff-Wild2's classes 0-6 are ned's ``EMOTIONS`` in the same order; "Other" (7) and -1 become
-1 (unlabelled). Annotation files named ``<video>_left`` / ``<video>_right`` describe one
of two people in a video; the analysis tracks one face per video, so these are skipped and
counted in the returned summary.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ned.blendshapes import EMOTIONS
from ned.errors import NedError
from ned.manipulator.data import write_labels

VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv")
AnalyzeFn = Callable[[str], object]  # path -> FaceTrack (must be picklable: module level)


@dataclass
class BuildSummary:
    """What a builder did."""

    analysed: int = 0
    skipped_existing: int = 0
    failed: list[str] = field(default_factory=list)
    skipped_other: list[str] = field(default_factory=list)
    labels_path: Path | None = None


def _default_analyze(path: str) -> object:
    from ned.analysis import analyze  # lazy: the analysis stage is heavy

    return analyze(path)


def _analyze_one(fn: AnalyzeFn, video: str, out: str) -> tuple[str, str]:
    """Worker: analyse one video and save its FaceTrack; returns (out, error or "")."""
    try:
        track = fn(video)
        track.save(out)  # type: ignore[attr-defined]
        return out, ""
    except Exception as e:  # one bad video must not stop the build
        return out, f"{video}: {e.__class__.__name__}: {e}"


def analyse_all(jobs: list[tuple[str, str]], analyze_fn: AnalyzeFn | None = None,
                workers: int = 2, progress: bool = True, summary: BuildSummary | None = None,
                ) -> BuildSummary:
    """Analyse (video, output .npz) pairs in worker processes; existing outputs are kept.

    Args:
        jobs: (video path, FaceTrack output path) pairs.
        analyze_fn: path -> FaceTrack (default ``ned.analysis.analyze``); module-level.
        workers: worker processes (1 = in this process).
    """
    fn = analyze_fn or _default_analyze
    summary = summary or BuildSummary()
    todo = []
    for video, out in jobs:
        if Path(out).exists():
            summary.skipped_existing += 1
        else:
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            todo.append((video, out))
    bar = tqdm(total=len(todo), disable=not progress, desc="analyse", unit="video")
    if workers <= 1:
        results = (_analyze_one(fn, v, o) for v, o in todo)
        for _, err in results:
            _count(summary, err)
            bar.update(1)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futs = [pool.submit(_analyze_one, fn, v, o) for v, o in todo]
            for f in as_completed(futs):
                _count(summary, f.result()[1])
                bar.update(1)
    bar.close()
    return summary


def _count(summary: BuildSummary, err: str) -> None:
    if err:
        summary.failed.append(err)
    else:
        summary.analysed += 1


def mead_jobs(root: str | os.PathLike, out_dir: str | os.PathLike, level: int = 3,
              actors: list[str] | None = None) -> list[tuple[str, str, str]]:
    """(video, track path, emotion) for every usable MEAD clip, sorted."""
    root, out_dir = Path(root), Path(out_dir)
    if not root.is_dir():
        raise NedError(f"MEAD folder not found: {root}")
    jobs = []
    for actor in sorted(p.name for p in root.iterdir() if p.is_dir()):
        if actors and actor not in actors:
            continue
        for emo in EMOTIONS:
            lvl = 1 if emo == "neutral" else level
            folder = root / actor / "video" / "front" / emo / f"level_{lvl}"
            for v in sorted(folder.glob("*")) if folder.is_dir() else []:
                if v.suffix.lower() in VIDEO_EXTS:
                    out = out_dir / "tracks" / f"{actor}_{emo}_l{lvl}_{v.stem}.npz"
                    jobs.append((str(v), str(out), emo))
    if not jobs:
        raise NedError(f"no MEAD videos under {root} (expected <actor>/video/front/<emotion>/"
                       f"level_<n>/*.mp4)")
    return jobs


def build_mead(root: str | os.PathLike, out_dir: str | os.PathLike, *, level: int = 3,
               actors: list[str] | None = None, analyze_fn: AnalyzeFn | None = None,
               workers: int = 2, progress: bool = True) -> BuildSummary:
    """Analyse a MEAD tree into ``out_dir/tracks`` and write ``out_dir/labels.json``."""
    jobs = mead_jobs(root, out_dir, level, actors)
    summary = analyse_all([(v, o) for v, o, _ in jobs], analyze_fn, workers, progress)
    clips = [{"track": str(Path(o).relative_to(out_dir)), "emotion": e}
             for _, o, e in jobs if Path(o).exists()]
    summary.labels_path = write_labels(Path(out_dir) / "labels.json", clips)
    return summary


def read_affwild2_annotation(path: str | os.PathLike) -> np.ndarray:
    """(T,) int64 labels in ``EMOTIONS`` order (-1 = none) from one annotation file."""
    lines = Path(path).read_text().split()
    if not lines or not lines[0].lower().startswith("neutral"):
        raise NedError(f"{path} is not an Aff-Wild2 expression annotation file")
    lab = np.array([int(v) for v in lines[1:]], np.int64)
    lab[(lab < 0) | (lab >= len(EMOTIONS))] = -1
    return lab


def affwild2_jobs(root: str | os.PathLike, out_dir: str | os.PathLike,
                  ) -> tuple[list[tuple[str, str, str]], list[str]]:
    """((video, track path, annotation path) list, skipped two-person annotation names)."""
    root, out_dir = Path(root), Path(out_dir)
    if not (root / "videos").is_dir() or not (root / "annotations").is_dir():
        raise NedError(f"Aff-Wild2 folder {root} needs videos/ and annotations/")
    videos = {p.stem: p for p in sorted((root / "videos").rglob("*"))
              if p.suffix.lower() in VIDEO_EXTS}
    jobs, skipped = [], []
    for ann in sorted((root / "annotations").rglob("*.txt")):
        if ann.stem.endswith(("_left", "_right")):
            skipped.append(ann.stem)
        elif ann.stem in videos:
            jobs.append((str(videos[ann.stem]), str(out_dir / "tracks" / f"{ann.stem}.npz"),
                         str(ann)))
        else:
            skipped.append(ann.stem)
    if not jobs:
        raise NedError(f"no Aff-Wild2 video with an annotation file under {root}")
    return jobs, skipped


def build_affwild2(root: str | os.PathLike, out_dir: str | os.PathLike, *,
                   analyze_fn: AnalyzeFn | None = None, workers: int = 2,
                   progress: bool = True) -> BuildSummary:
    """Analyse an Aff-Wild2 tree into ``out_dir/tracks`` and write ``out_dir/labels.json``.

    Per-frame labels are cut or padded (with -1) to the analysed track's frame count.
    """
    from ned.records import FaceTrack

    jobs, skipped = affwild2_jobs(root, out_dir)
    summary = analyse_all([(v, o) for v, o, _ in jobs], analyze_fn, workers, progress)
    summary.skipped_other = skipped
    clips = []
    for _, out, ann in jobs:
        if not Path(out).exists():
            continue
        n = FaceTrack.load(out).n_frames
        lab = read_affwild2_annotation(ann)[:n]
        lab = np.r_[lab, np.full(n - len(lab), -1, np.int64)]
        clips.append({"track": str(Path(out).relative_to(out_dir)),
                      "frame_emotions": lab.tolist()})
    summary.labels_path = write_labels(Path(out_dir) / "labels.json", clips)
    return summary
