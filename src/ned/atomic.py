"""Atomic file writes: a file is written to a hidden temporary sibling and renamed into
place, so a reader never sees half a file and a failed write leaves nothing behind.

Temporary names carry the writing process's id, so what a killed run left behind (a
``.<name>.<pid>.tmp<suffix>`` sibling, a ``ned-<pid>-*`` folder in the temporary
directory) is recognised and removed by the next run once that process is gone.
Also here: :func:`check_output`, the one check of an output path every command runs
before any work.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ned.errors import NedError


def atomic_path(path: str | os.PathLike) -> Path:
    """Temporary sibling of ``path`` to write to before renaming into place (hidden, with
    the process id, and the same suffix so format-sniffing writers still work)."""
    p = Path(path)
    return p.with_name(f".{p.name}.{os.getpid()}.tmp{p.suffix}")


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (True when in doubt)."""
    if pid <= 0:
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary siblings of ``path`` (:func:`atomic_path`) that runs which no
    longer exist left behind (a run killed by SIGKILL, a power cut). Returns them."""
    p = Path(path)
    removed = []
    pattern = re.compile(rf"^\.{re.escape(p.name)}\.(\d+)\.tmp{re.escape(p.suffix)}$")
    try:
        siblings = list(p.parent.iterdir())
    except OSError:
        return removed
    for s in siblings:
        m = pattern.match(s.name)
        if m and not pid_alive(int(m.group(1))):
            try:
                s.unlink()
                removed.append(s)
            except OSError:
                pass
    return removed


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
    remove_stale_temps(path)
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


#: Name of a temporary folder of this package: ``ned-`` [a word ``-``] pid ``-`` random.
_TEMP_DIR = re.compile(r"^ned-(?:[a-z]+-)?(\d+)-")


def remove_stale_temp_dirs(folder: str | os.PathLike | None = None) -> list[Path]:
    """Remove the ``ned-*`` temporary folders (:func:`temp_dir`) of runs that no longer
    exist from ``folder`` (default: the system's temporary directory). Returns them."""
    root = Path(folder or tempfile.gettempdir())
    removed = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return removed
    for d in entries:
        m = _TEMP_DIR.match(d.name)
        if m and not pid_alive(int(m.group(1))):
            try:
                if d.is_dir() and not d.is_symlink():
                    shutil.rmtree(d)
                    removed.append(d)
            except OSError:
                pass
    return removed


@contextmanager
def temp_dir(kind: str = "") -> Iterator[str]:
    """A temporary folder ``ned-[kind-]<pid>-*`` removed when the block ends; the folders
    that killed runs left behind are removed first.

    Args:
        kind: a lower-case word naming what the folder holds (e.g. ``analyze``), or "".

    Yields:
        The folder's path.
    """
    if kind and not kind.isalpha():
        raise ValueError(f"temporary folder kind must be a word, got {kind!r}")
    remove_stale_temp_dirs()
    prefix = f"ned-{kind + '-' if kind else ''}{os.getpid()}-"
    with tempfile.TemporaryDirectory(prefix=prefix) as d:
        yield d


def check_output(path: str | os.PathLike, *, inputs: Iterable[str | os.PathLike | None] = (),
                 suffixes: Iterable[str] | None = None, what: str = "output") -> Path:
    """Refuse, with one line, an output path that cannot or must not be written: a
    folder, a missing or read-only folder, one of the inputs, or a name without one of
    ``suffixes``. Run it before any work.

    Args:
        path: the file to write.
        inputs: files the command reads (None entries are skipped); the output must be
            none of them.
        suffixes: accepted extensions, lower case with the dot (None: any).
        what: how the messages name the path (``output``, ``--plot``, ...).

    Returns:
        ``path`` as a :class:`Path`.

    Raises:
        NedError: with the reason.
    """
    p = Path(path)
    if str(path) == "" or p.name in ("", ".", ".."):
        raise NedError(f"{what} needs a file name, got {str(path)!r}")
    if p.is_dir():
        raise NedError(f"{what} {p} is a folder; give a file name inside it")
    for i in inputs:
        if i is None:
            continue
        try:
            same = p.resolve() == Path(i).resolve() or (p.exists() and p.samefile(i))
        except OSError:
            same = False
        if same:
            raise NedError(f"{what} {p} would overwrite the input file; choose another path")
    if suffixes is not None:
        suffixes = tuple(suffixes)
        if p.suffix.lower() not in suffixes:
            raise NedError(f"{what} must be a {' or '.join(suffixes)} file, got {p.name}")
    parent = p.parent
    if not parent.is_dir():
        raise NedError(f"output folder does not exist: {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise NedError(f"output folder is not writable: {parent}")
    return p
