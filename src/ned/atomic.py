"""Atomic file writes: a file is written to a hidden temporary sibling and renamed into
place, so a reader never sees half a file and a failed write leaves nothing behind."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def atomic_path(path: str | os.PathLike) -> Path:
    """Temporary sibling of ``path`` to write to before renaming into place (hidden, with
    the process id, and the same suffix so format-sniffing writers still work)."""
    p = Path(path)
    return p.with_name(f".{p.name}.{os.getpid()}.tmp{p.suffix}")


@contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[Path]:
    """Write ``path`` atomically: the block writes the yielded temporary path; when it ends
    without an error the file replaces ``path``, otherwise it is removed and ``path`` is
    left as it was.

    Example::

        with atomic_write(out) as tmp, open(tmp, "wb") as fh:
            fh.write(data)
    """
    path = Path(path)
    tmp = atomic_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write a text file atomically. Returns the path."""
    with atomic_write(path) as tmp:
        tmp.write_text(text)
    return Path(path)
