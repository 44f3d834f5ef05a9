"""The analysis cache: a clip's FaceTrack record stored under its content hash.

Entries live in ``$NED_CACHE_DIR`` (default ``~/.cache/ned``), named by the clip's sha256
and the analysis options (:meth:`AnalysisConfig.key`). They are written atomically (by the
analysis itself), so an interrupted run leaves no broken entry. An entry is used only
when it checks out (:func:`check_entry`): every member of the file intact (CRC), a
FaceTrack of this schema, and it names this clip (content hash, size, frame rate, frame
count, face index, time origin); anything else is removed, with a warning, and the clip
is analysed again. A cache folder that cannot be used (a file, read-only) is skipped with
a warning: the edit runs without the cache.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path

from ned.analysis.analyze import TIME_ORIGIN, AnalysisConfig, analyze_to_file, file_hash
from ned.analysis.stream import LiveAnalysis, RowChunk, record_chunks
from ned.atomic import temp_dir
from ned.errors import NedError, warn
from ned.io.video import VideoInfo, probe
from ned.records import SCHEMA_VERSION, FaceTrack, load_fields

#: Metadata every usable entry holds (besides the arrays).
_META = ("source_hash", "width", "height", "fps", "face_index", "frames", "time_origin")


def cache_dir() -> Path:
    """Folder of cached analyses: $NED_CACHE_DIR, else ~/.cache/ned."""
    return Path(os.environ.get("NED_CACHE_DIR") or Path.home() / ".cache" / "ned")


_warned: set[str] = set()


def _writable(folder: Path) -> bool:
    return os.access(folder, os.R_OK | os.W_OK | os.X_OK)


def usable_cache_dir() -> Path | None:
    """The cache folder, created if needed; None (with a warning, once per folder and
    process) when it cannot be used: a file, or a folder that cannot be written."""
    folder = cache_dir()
    reason = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        reason = "is not a folder"
    except OSError as e:
        reason = f"cannot be created ({e.strerror or e.__class__.__name__})"
    if reason is None and not folder.is_dir():
        reason = "is not a folder"
    if reason is None and not _writable(folder):
        reason = "is not writable"
    if reason is None:
        return folder
    if str(folder) not in _warned:
        _warned.add(str(folder))
        warn(f"the analysis cache {folder} {reason} (NED_CACHE_DIR); running without the "
             "cache")
    return None


def check_entry(path: str | os.PathLike, video_hash: str, info: VideoInfo,
                config: AnalysisConfig) -> str | None:
    """Why a cache file is not this clip's analysis, or None when it is.

    Args:
        path: the cache file.
        video_hash: the clip's sha256 (:func:`ned.analysis.analyze.file_hash`).
        info: the clip's :func:`ned.io.probe`.
        config: the analysis options.

    Returns:
        A short reason (damaged, another clip, another version, ...) or None.
    """
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()  # reads every member: a changed byte fails its CRC
            members = set(z.namelist())
        if bad is not None:
            return f"damaged ({bad})"
        if config.occlusion is not None and not {"occlusion.npy", "hands.npy"} <= members:
            return "without the occlusion masks"
        f = load_fields(path, ("__schema__", "valid", "timestamps", "cuts", *_META[:5]),
                        kind=FaceTrack.KIND)
        meta = load_fields(path, ("__meta__",))["__meta__"]
    except NedError as e:
        return f"unreadable ({str(e).rsplit('(', 1)[-1].rstrip(')')})"
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as e:
        return f"unreadable ({e.__class__.__name__})"
    try:
        meta = json.loads(str(meta))
    except ValueError:
        return "unreadable (metadata)"
    if int(f["__schema__"]) != SCHEMA_VERSION:
        return f"schema {int(f['__schema__'])}"
    missing = [k for k in _META if k not in meta]
    if missing:
        return f"written by an older ned (no {missing[0]})"
    n = len(f["valid"])
    if meta["source_hash"] != video_hash:
        return "the analysis of another clip"
    if meta["time_origin"] != TIME_ORIGIN:
        return "timestamps of another origin"
    if (int(meta["width"]), int(meta["height"])) != (info.width, info.height):
        return f"of a {meta['width']}x{meta['height']} clip"
    if not math.isclose(float(meta["fps"]), info.fps, rel_tol=1e-6, abs_tol=1e-9):
        return f"of a clip at {meta['fps']} fps"
    if int(meta["face_index"]) != config.face_index:
        return f"of face {meta['face_index']}"
    if n != int(meta["frames"]) or len(f["timestamps"]) != n:
        return f"inconsistent ({n} frames, {meta['frames']} recorded)"
    cuts = f["cuts"]
    if len(cuts) and (cuts.min() < 0 or cuts.max() >= n):
        return "cuts outside the clip"
    return None


def cache_entry(video: str | os.PathLike, config: AnalysisConfig,
                folder: str | os.PathLike | None = None) -> tuple[Path, bool]:
    """The cache file of a clip's analysis and whether a usable record is already there
    (a damaged, stale or foreign entry is removed, with a warning).

    Args:
        video: the clip.
        config: analysis options (part of the key).
        folder: the cache folder (default :func:`cache_dir`, created if needed).

    Returns:
        (path, found).
    """
    if folder is None:
        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
    digest = file_hash(video)
    path = Path(folder) / f"{digest[:24]}-{config.key()}.npz"
    if path.exists():
        why = check_entry(path, digest, probe(video), config)
        if why is None:
            return path, True
        warn(f"cache entry {path.name} of {video} is {why}; analysing the clip again")
        try:
            path.unlink()
        except OSError as e:
            raise NedError(f"cannot replace the cache entry {path} ({e.strerror})") from None
    return path, False


def cached_analysis(video: str | os.PathLike, config: AnalysisConfig,
                    workdir: str | os.PathLike, *, use_cache: bool = True,
                    progress: bool = False) -> Path:
    """Path of the clip's FaceTrack record, analysed now or found in the cache.

    Args:
        video: the clip.
        config: analysis options.
        workdir: folder for the record when the cache is not used (or cannot be).
        use_cache: read and fill the cache.
        progress: progress bar on stderr while analysing.
    """
    folder = usable_cache_dir() if use_cache else None
    if folder is None:
        path = Path(workdir) / f"track-{config.key()}-{Path(video).stem}.npz"
        analyze_to_file(video, path, config, progress)
        return path
    path, found = cache_entry(video, config, folder)
    if not found:
        analyze_to_file(video, path, config, progress)
    return path


def cached_track(video: str | os.PathLike, config: AnalysisConfig | None = None, *,
                 use_cache: bool = True, progress: bool = False) -> FaceTrack:
    """The clip's whole FaceTrack (see :func:`cached_analysis`)."""
    with temp_dir() as work:
        return FaceTrack.load(cached_analysis(video, config or AnalysisConfig(), work,
                                              use_cache=use_cache, progress=progress))


def analysis_rows(video: str | os.PathLike, config: AnalysisConfig,
                  workdir: str | os.PathLike, stack: ExitStack,
                  use_cache: bool = True) -> Iterable[RowChunk]:
    """The clip's analysis rows: read from the cache, or produced by a background analysis
    (which also fills the cache) while the caller goes on.

    Args:
        video: the clip.
        config: analysis options.
        workdir: folder for the record when the cache is not used (or cannot be).
        stack: the background process is stopped when this stack closes.
        use_cache: read and fill the cache.

    Returns:
        The :class:`ned.analysis.stream.RowChunk` in order: an iterator over the cache
        entry, or the running :class:`ned.analysis.stream.LiveAnalysis` (iterable once;
        its ``waited`` and, once the stack is closed, ``summary`` say how it went).
    """
    folder = usable_cache_dir() if use_cache else None
    if folder is not None:
        path, found = cache_entry(video, config, folder)
        if found:
            return record_chunks(path)
    else:
        path = Path(workdir) / f"track-{config.key()}.npz"
    return stack.enter_context(LiveAnalysis(video, path, config))
