"""ned.atomic: whole files or nothing, leftovers of killed runs removed, one output check."""

import os
import subprocess
import sys

import pytest

from ned.atomic import (
    atomic_path,
    atomic_write,
    check_output,
    pid_alive,
    remove_stale_temp_dirs,
    remove_stale_temps,
    temp_dir,
    write_text,
)
from ned.errors import NedError


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_write_text_round_trip_and_no_leftovers(tmp_path):
    out = write_text(tmp_path / "a.txt", "hello\n")
    assert out.read_text() == "hello\n" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_failed_write_leaves_the_old_file(tmp_path):
    out = write_text(tmp_path / "a.txt", "old")
    with pytest.raises(RuntimeError), atomic_write(out) as tmp:
        tmp.write_text("half")
        raise RuntimeError
    assert out.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_stale_temporary_siblings_of_dead_runs_are_removed(tmp_path):
    out = tmp_path / "clip.mp4"
    dead = tmp_path / f".clip.mp4.{_dead_pid()}.tmp.mp4"
    alive = tmp_path / f".clip.mp4.{os.getppid()}.tmp.mp4"   # a running process's
    other = tmp_path / ".other.mp4.1.tmp.mp4"
    for p in (dead, alive, other):
        p.write_bytes(b"x")
    assert remove_stale_temps(out) == [dead]
    assert alive.exists() and other.exists()
    assert atomic_path(out).name == f".clip.mp4.{os.getpid()}.tmp.mp4"


def test_temp_dirs_carry_the_pid_and_dead_runs_folders_go(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    stale = tmp_path / f"ned-analyze-{_dead_pid()}-abc"
    stale.mkdir()
    (stale / "landmarks.raw").write_bytes(b"x" * 100)
    foreign = tmp_path / "ned-1234abcd"   # an old-style name: not ours to judge
    foreign.mkdir()
    with temp_dir("analyze") as d:
        assert os.path.basename(d).startswith(f"ned-analyze-{os.getpid()}-")
        assert not stale.exists() and foreign.exists()
        assert remove_stale_temp_dirs(tmp_path) == []   # our own, running: kept
    assert not os.path.exists(d)
    with pytest.raises(ValueError):
        with temp_dir("no-words"):
            pass


def test_pid_alive():
    assert pid_alive(os.getpid()) and not pid_alive(_dead_pid())


@pytest.mark.parametrize("case,message", [
    ("folder", "is a folder"),
    ("missing_folder", "does not exist"),
    ("input", "would overwrite the input"),
    ("suffix", "must be a .npz file"),
    ("empty", "needs a file name"),
])
def test_check_output_refuses(tmp_path, case, message):
    src = tmp_path / "in.npz"
    src.write_bytes(b"x")
    path = {"folder": tmp_path, "missing_folder": tmp_path / "no" / "o.npz", "input": src,
            "suffix": tmp_path / "o.mp4", "empty": ""}[case]
    with pytest.raises(NedError, match=message):
        check_output(path, inputs=(src, None), suffixes=(".npz",))


def test_check_output_sees_the_input_through_a_link(tmp_path):
    src = tmp_path / "in.npz"
    src.write_bytes(b"x")
    (tmp_path / "link.npz").symlink_to(src)
    with pytest.raises(NedError, match="overwrite"):
        check_output(tmp_path / "link.npz", inputs=(src,))
    assert check_output(tmp_path / "OUT.NPZ", suffixes=(".npz",)).name == "OUT.NPZ"


def test_check_output_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user that can write anywhere")
        with pytest.raises(NedError, match="not writable"):
            check_output(ro / "o.npz")
    finally:
        ro.chmod(0o700)
