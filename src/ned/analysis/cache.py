"""The analysis cache: a clip's FaceTrack record stored under its content hash.

Entries live in ``$NED_CACHE_DIR`` (default ``~/.cache/ned``), named by the clip's sha256
and the analysis options (:meth:`AnalysisConfig.key`). They are written atomically (by the
analysis itself), so an interrupted run leaves no broken entry; an entry that cannot be
read is removed and analysed again.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

from ned.analysis.analyze import AnalysisConfig, analyze_to_file, file_hash
from ned.analysis.stream import LiveAnalysis, RowChunk, record_chunks
from ned.errors import NedError
from ned.records import FaceTrack, load_fields


def cache_dir() -> Path:
    """Folder of cached analyses: $NED_CACHE_DIR, else ~/.cache/ned."""
    return Path(os.environ.get("NED_CACHE_DIR") or Path.home() / ".cache" / "ned")


def cache_entry(video: str | os.PathLike, config: AnalysisConfig) -> tuple[Path, bool]:
    """The cache file of a clip's analysis and whether a usable record is already there
    (a stale or foreign entry is removed).

    Args:
        video: the clip.
        config: analysis options (part of the key).

    Returns:
        (path, found).
    """
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{file_hash(video)[:24]}-{config.key()}.npz"
    if path.exists():
        try:
            load_fields(path, ("valid",), kind=FaceTrack.KIND)
            return path, True
        except NedError:
            path.unlink()
    return path, False


def cached_analysis(video: str | os.PathLike, config: AnalysisConfig,
                    workdir: str | os.PathLike, *, use_cache: bool = True,
                    progress: bool = False) -> Path:
    """Path of the clip's FaceTrack record, analysed now or found in the cache.

    Args:
        video: the clip.
        config: analysis options.
        workdir: folder for the record when the cache is not used.
        use_cache: read and fill the cache.
        progress: progress bar on stderr while analysing.
    """
    if not use_cache:
        path = Path(workdir) / f"track-{config.key()}-{Path(video).stem}.npz"
        analyze_to_file(video, path, config, progress)
        return path
    path, found = cache_entry(video, config)
    if not found:
        analyze_to_file(video, path, config, progress)
    return path


def cached_track(video: str | os.PathLike, config: AnalysisConfig | None = None, *,
                 use_cache: bool = True, progress: bool = False) -> FaceTrack:
    """The clip's whole FaceTrack (see :func:`cached_analysis`)."""
    with tempfile.TemporaryDirectory(prefix="ned-") as work:
        return FaceTrack.load(cached_analysis(video, config or AnalysisConfig(), work,
                                              use_cache=use_cache, progress=progress))


def analysis_rows(video: str | os.PathLike, config: AnalysisConfig,
                  workdir: str | os.PathLike, stack: ExitStack,
                  use_cache: bool = True) -> Iterator[RowChunk]:
    """The clip's analysis rows: read from the cache, or produced by a background analysis
    (which also fills the cache) while the caller goes on.

    Args:
        video: the clip.
        config: analysis options.
        workdir: folder for the record when the cache is not used.
        stack: the background process is stopped when this stack closes.
        use_cache: read and fill the cache.

    Returns:
        An iterator of :class:`ned.analysis.stream.RowChunk`.
    """
    if use_cache:
        path, found = cache_entry(video, config)
        if found:
            return record_chunks(path)
    else:
        path = Path(workdir) / f"track-{config.key()}.npz"
    return iter(stack.enter_context(LiveAnalysis(video, path, config)))
