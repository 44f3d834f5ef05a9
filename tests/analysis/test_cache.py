"""The analysis cache: an entry is used only when it is intact and names this clip; a
damaged, foreign or old entry is replaced; an unusable cache folder is skipped with a
warning."""

from __future__ import annotations

import numpy as np
import pytest

from ned.analysis import cache as C
from ned.analysis.analyze import ROW_FIELDS, TIME_ORIGIN, AnalysisConfig, file_hash
from ned.errors import NedWarning
from ned.io import probe
from ned.records import FaceTrack, NpzSpool
from tests import media


def _entry(path, clip, n=None, **meta):
    """A FaceTrack record as the analysis writes it for ``clip`` (zero rows)."""
    info = probe(clip)
    n = info.frame_count if n is None else n
    work = path.parent.parent / "spool"
    work.mkdir(exist_ok=True)
    spool = NpzSpool(FaceTrack.KIND, ROW_FIELDS, work)
    row = {k: np.zeros(shape, dtype) for k, (dtype, shape) in ROW_FIELDS.items()}
    for _ in range(n):
        spool.append(**row)
    m = {"width": info.width, "height": info.height, "fps": info.fps, "source": str(clip),
         "source_hash": file_hash(clip), "face_index": 0, "frames": n,
         "time_origin": TIME_ORIGIN, **meta}
    m = {k: v for k, v in m.items() if v is not None}
    spool.finish(path, m, extra={"cuts": np.zeros(0, np.int64)})
    return path


@pytest.fixture
def clip(tmp_path):
    return media.encode(tmp_path / "clip.mp4", media.gradient_frames(8), fps=25)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("NED_CACHE_DIR", str(folder))
    C._warned.clear()
    return folder


def _key_path(cache, clip):
    return cache / f"{file_hash(clip)[:24]}-{AnalysisConfig().key()}.npz"


def test_a_good_entry_is_used(cache, clip):
    cache.mkdir()
    path = _entry(_key_path(cache, clip), clip)
    assert C.check_entry(path, file_hash(clip), probe(clip), AnalysisConfig()) is None
    assert C.cache_entry(clip, AnalysisConfig()) == (path, True)
    assert FaceTrack.load(path).n_frames == 8


@pytest.mark.parametrize("spoil,why", [
    ("bytes", "damaged"),                     # a few bytes inside the landmarks
    ("truncate", "unreadable"),
    ("other_clip", "another clip"),          # a valid record of another clip
    ("old", "older ned"),                     # written before the record named its origin
    ("frames", "inconsistent"),
    ("face", "of face 2"),
    ("size", "of a 32x32 clip"),
])
def test_a_bad_entry_is_replaced_with_a_warning(cache, clip, tmp_path, spoil, why):
    cache.mkdir()
    path = _key_path(cache, clip)
    if spoil == "other_clip":
        other = media.encode(tmp_path / "other.mp4", media.gradient_frames(12), fps=25)
        _entry(path, other)
    elif spoil == "old":
        _entry(path, clip, time_origin=None)
    elif spoil == "frames":
        _entry(path, clip, frames=120)
    elif spoil == "face":
        _entry(path, clip, face_index=2)
    elif spoil == "size":
        _entry(path, clip, width=32, height=32)
    else:
        _entry(path, clip)
        data = bytearray(path.read_bytes())
        if spoil == "bytes":
            at = data.find(b"landmarks.npy") + 400
            data[at:at + 8] = b"\xff" * 8
        else:
            data = data[: len(data) // 2]
        path.write_bytes(bytes(data))
    with pytest.warns(NedWarning, match=why):
        got = C.cache_entry(clip, AnalysisConfig())
    assert got == (path, False) and not path.exists()


@pytest.mark.parametrize("kind", ["file", "read_only"])
def test_an_unusable_cache_folder_is_skipped_with_a_warning(cache, kind, monkeypatch):
    if kind == "file":
        cache.write_text("not a folder")
    else:
        cache.mkdir()
        monkeypatch.setattr(C, "_writable", lambda folder: False)  # root writes anywhere
    with pytest.warns(NedWarning, match="running without the cache"):
        assert C.usable_cache_dir() is None
    assert C.usable_cache_dir() is None   # warned once


def test_a_usable_cache_folder_is_made(cache):
    assert C.usable_cache_dir() == cache and cache.is_dir()
