"""The bad-input matrix of issue 17: odd, damaged and adversarial inputs to the commands,
each with its expected outcome. Either one error line and exit 1 with nothing written
and no input changed, or a correct output (frames, timestamps, duration, audio, size)
with a ``ned: warning:`` line where something was dropped or changed. Never a partial
file, never "internal error" for what a user can cause.

Beyond the issue's list the matrix also covers: a negative --start, a .webp / extension-
less output, a folder as the report of ``ned evaluate`` or the output of ``ned analyze``,
an output reached through a symbolic link to the input, .mkv / .mov outputs, a 10-bit
clip with two audio tracks through a whole edit, a Matroska file cut short (read up to
the cut, with a warning), a cache entry of an older ned (no time origin) or of another
face index, SIGHUP sent to the whole process group (a closed terminal), SIGINT, and the
leftovers of a SIGKILLed run (removed by the next run).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ned.cli import main
from ned.io import probe, read_frames
from tests import media


@pytest.fixture(scope="module")
def face(tmp_path_factory) -> Path:
    """24 frames of single_face.mp4 at 320x180, 30 fps, with an audio track."""
    d = tmp_path_factory.mktemp("matrix")
    return media.encode(d / "face.mp4", media.face_frames(24, (320, 180)), fps=30, audio=1)


def _run(capsys, argv: list[str]) -> tuple[int, list[str], str]:
    rc = main(argv)
    cap = capsys.readouterr()
    err = cap.err.strip().splitlines()
    assert not any("internal error" in e or "Traceback" in e for e in err), err
    return rc, err, cap.out


def _errors(err: list[str]) -> list[str]:
    return [e for e in err if not e.startswith("ned: warning:")]


def _warnings(err: list[str]) -> list[str]:
    return [e for e in err if e.startswith("ned: warning:")]


# -- refused up front: one line, exit 1, nothing written --------------------------------------
REFUSED = {
    "gif_output": (["edit", "{face}", "-o", "{tmp}/o.gif", "--emotion", "happy"],
                   "output must be a .mp4"),
    "webp_output": (["edit", "{face}", "-o", "{tmp}/o.webp", "--emotion", "happy"],
                    "output must be a .mp4"),
    "no_extension": (["edit", "{face}", "-o", "{tmp}/out", "--emotion", "happy"],
                     "output must be a .mp4"),
    "gif_preview": (["edit", "{face}", "-o", "{tmp}/o.mp4", "--preview", "{tmp}/p.gif",
                     "--emotion", "happy"], "preview must be a .mp4"),
    "folder_output": (["edit", "{face}", "-o", "{tmp}/dir", "--emotion", "happy"],
                      "is a folder"),
    "folder_input": (["edit", "{tmp}/dir", "-o", "{tmp}/o.mp4", "--emotion", "happy"],
                     "is a folder, not a video file"),
    "folder_reference": (["edit", "{face}", "-o", "{tmp}/o.mp4", "--reference", "{tmp}/dir"],
                         "is a folder, not a reference clip"),
    "output_is_input": (["edit", "{face}", "-o", "{face}", "--emotion", "happy"],
                        "would overwrite the input"),
    "output_links_to_input": (["edit", "{face}", "-o", "{tmp}/link.mp4", "--emotion", "sad"],
                              "would overwrite the input"),
    "start_nan": (["edit", "{face}", "-o", "{tmp}/o.mp4", "--emotion", "happy", "--start",
                   "nan"], "--start must be a finite number"),
    "end_nan": (["edit", "{face}", "-o", "{tmp}/o.mp4", "--emotion", "happy", "--end", "nan"],
                "--end must be a finite number"),
    "end_zero": (["edit", "{face}", "-o", "{tmp}/o.mp4", "--emotion", "happy", "--end", "0"],
                 "--end (0) must be after the clip's first frame"),
    "start_negative": (["edit", "{face}", "-o", "{tmp}/o.mp4", "--emotion", "happy",
                        "--start", "-1"], "--start (-1) must be >= 0"),
    "start_past_end": (["edit", "{face}", "-o", "{tmp}/o.mp4", "--emotion", "happy",
                        "--start", "10"], "--start 10 s is at or past the end of the clip"),
    "analyze_plot_missing_folder": (["analyze", "{face}", "-o", "{tmp}/t.npz", "--plot",
                                     "{tmp}/none/p.png", "-q"], "output folder does not exist"),
    "analyze_plot_not_png": (["analyze", "{face}", "-o", "{tmp}/t.npz", "--plot",
                              "{tmp}/p.jpg", "-q"], "--plot must be a .png file"),
    "analyze_output_folder": (["analyze", "{face}", "-o", "{tmp}/dir", "-q"], "is a folder"),
    "analyze_input_folder": (["analyze", "{tmp}/dir", "-o", "{tmp}/t.npz", "-q"],
                             "is a folder"),
    "evaluate_folder_input": (["evaluate", "{tmp}/dir", "{face}"], "is a folder"),
    "evaluate_report_folder": (["evaluate", "{face}", "{face}", "-o", "{tmp}/dir"],
                               "is a folder"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_before_any_work(case, face, tmp_path, capsys):
    argv, message = REFUSED[case]
    (tmp_path / "dir").mkdir()
    (tmp_path / "link.mp4").symlink_to(face)
    before = sorted(p.name for p in tmp_path.iterdir())
    face_bytes = face.read_bytes()
    argv = [a.replace("{face}", str(face)).replace("{tmp}", str(tmp_path)) for a in argv]
    t0 = time.perf_counter()
    rc, err, _ = _run(capsys, argv)
    assert rc == 1 and len(err) == 1 and message in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert face.read_bytes() == face_bytes
    assert time.perf_counter() - t0 < 5  # refused up front, not after an analysis


def test_closed_stdout_is_not_an_error(capsys):
    """`ned ... | head`: printing to a closed pipe drops the text, the command goes on."""
    from ned import cli

    class Closed:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    old = sys.stdout
    sys.stdout = Closed()
    try:
        with cli._user_streams():
            print("a summary line")
            print("and another")
            sys.stdout.flush()
        assert isinstance(sys.stdout, Closed)
    finally:
        sys.stdout = old


# -- edits of odd and damaged media: a correct output, warnings where something changed ---------
def _edit(capsys, src, out, *extra, emotion="happy"):
    rc, err, stdout = _run(capsys, ["edit", str(src), "-o", str(out), "--emotion", emotion,
                                    "-q", *extra])
    assert rc == 0, err
    assert _errors(err) == [], err
    return err, stdout


@pytest.mark.slow
def test_raw_h264_keeps_its_duration_and_is_not_occluded(tmp_path, capsys):
    """72 frames at 25 fps of a raw stream came out as a 0.04 s video, 53 frames
    "partly occluded" (the analysis saw every frame at time 0)."""
    raw = media.raw_h264(tmp_path / "in.h264", media.face_frames(36, (320, 180)), fps=25)
    out = tmp_path / "out.mp4"
    _, stdout = _edit(capsys, raw, out)
    info = probe(out)
    assert info.frame_count == 36 and info.duration == pytest.approx(36 / 25, abs=1e-3)
    assert info.fps == pytest.approx(25)
    assert "36 edited" in stdout and "partly occluded: 0" in stdout


@pytest.mark.slow
def test_damaged_middle_skips_bad_packets_and_says_so(tmp_path, capsys):
    """The edit stopped at the first damaged packet (31 of 72 frames) without a word."""
    src = media.encode(tmp_path / "src.mp4", media.face_frames(72, (320, 180)), fps=30,
                       audio=1)
    bad = media.damage_middle(tmp_path / "bad.mp4", src, size=6000)
    decoded = len(list(read_frames(bad)))
    out = tmp_path / "out.mp4"
    err, stdout = _edit(capsys, bad, out)
    assert any("damaged video packet" in w for w in _warnings(err)), err
    assert len(_warnings(err)) == 1  # the analysis' and the render's one warning, once
    info = probe(out)
    assert info.frame_count == decoded > 36
    assert info.duration == pytest.approx(probe(src).duration, abs=0.1)
    assert media.audio_streams(out) == media.audio_streams(src)
    rc, err, stdout = _run(capsys, ["analyze", str(bad), "-o", str(tmp_path / "t.npz"),
                                    "-q"])
    assert rc == 0 and f"/{decoded} frames" in stdout and _warnings(err)


@pytest.mark.slow
def test_truncated_file_is_edited_up_to_the_cut_with_a_warning(tmp_path, capsys):
    src = media.encode(tmp_path / "src.mkv", media.face_frames(48, (320, 180)), fps=30,
                       audio=1)
    data = src.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 2 // 3])
    decoded = len(list(read_frames(cut)))
    err, _ = _edit(capsys, cut, tmp_path / "out.mp4")
    assert [w for w in _warnings(err) if "looks truncated" in w], err
    assert probe(tmp_path / "out.mp4").frame_count == decoded


@pytest.mark.slow
def test_range_counts_from_the_first_frame(tmp_path, capsys):
    """A clip whose first frame is at 5.0 s: --start 0.2 --end 0.6 edits that stretch (it
    edited nothing: the range was taken as absolute stream time)."""
    late = media.encode(tmp_path / "late.mp4", media.face_frames(24, (320, 180)), fps=30,
                        pts_offset=5.0)
    out = tmp_path / "out.mp4"
    _, stdout = _edit(capsys, late, out, "--start", "0.2", "--end", "0.6")
    edited = int(stdout.split(" edited")[0].rsplit(" ", 1)[-1])
    assert 6 <= edited <= 18, stdout
    src = list(read_frames(late))
    got = list(read_frames(out))
    assert [f.pts for f in got] == [f.pts for f in src]  # the stream's times kept


@pytest.mark.slow
def test_face_index_out_of_range_names_the_faces(face, tmp_path, capsys):
    for argv in (["edit", str(face), "-o", str(tmp_path / "o.mp4"), "--emotion", "sad",
                  "--face-index", "5", "-q"],
                 ["analyze", str(face), "-o", str(tmp_path / "t.npz"), "--face-index", "5",
                  "-q"]):
        rc, err, _ = _run(capsys, argv)
        assert rc == 1 and len(err) == 1, err
        assert "face index 5 is out of range" in err[0] and "at most 1 face" in err[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize("suffix,codec", [(".webm", "vp9"), (".avi", "h264"),
                                          (".mkv", "h264")])
def test_other_containers(face, tmp_path, capsys, suffix, codec):
    """.webm (was "'webm' format does not support 'libx264'" once writing started) and .avi
    (pts came back 1,3,2,4,6,5)."""
    out = tmp_path / f"out{suffix}"
    _edit(capsys, face, out)
    info = probe(out)
    assert (info.codec, info.frame_count, info.width, info.height) == (codec, 24, 320, 180)
    assert info.duration == pytest.approx(probe(face).duration, abs=0.05)
    pts = media.decoded_pts(out)
    assert all(b > a for a, b in zip(pts, pts[1:]))
    assert len(media.audio_streams(out)) == 1


@pytest.mark.slow
def test_rotated_clip_is_bit_exact_outside_the_edit(tmp_path, capsys):
    """At --crf 0 the frames outside --start/--end equal the source (up to 10 grey levels
    off on a rotated clip before)."""
    src = media.encode(tmp_path / "rot.mp4", media.face_frames(24, (320, 180)), fps=30,
                       rotation=90)
    out = tmp_path / "out.mp4"
    _edit(capsys, src, out, "--crf", "0", "--start", "0.3", "--end", "0.5")
    assert probe(out).rotation == 90
    for a, b in zip(read_frames(src), read_frames(out)):
        if a.time < 0.2 or a.time > 0.65:
            assert np.array_equal(a.image, b.image), a.index


@pytest.mark.slow
def test_ten_bit_clip_with_two_audio_tracks(tmp_path, capsys):
    src = media.encode(tmp_path / "ten.mp4", media.face_frames(18, (320, 180)), fps=30,
                       pix_fmt="yuv420p10le", audio=2)
    out = tmp_path / "out.mov"
    _edit(capsys, src, out)
    assert media.stream_facts(out)[1:] == ("yuv420p10le", 10)
    assert media.audio_streams(out) == media.audio_streams(src)
    assert probe(out).frame_count == 18


@pytest.mark.slow
def test_odd_size_clip_keeps_its_size_and_warns(tmp_path, capsys):
    frames = [f[:179, :317] for f in media.face_frames(12, (320, 180))]
    src = media.encode(tmp_path / "odd.mkv", frames, fps=30, codec="ffv1")
    out = tmp_path / "out.mp4"
    err, _ = _edit(capsys, src, out)
    assert any("4:2:0 needs an even size" in w for w in _warnings(err)), err
    info = probe(out)
    assert (info.width, info.height, info.frame_count) == (317, 179, 12)


@pytest.mark.slow
def test_grey_clip_is_not_reported_occluded(tmp_path, capsys):
    grey = [np.repeat(f.mean(2, keepdims=True).astype(np.uint8), 3, 2)
            for f in media.face_frames(36, (320, 180))]
    src = media.encode(tmp_path / "grey.mp4", grey, fps=30, pix_fmt="gray")
    _, stdout = _edit(capsys, src, tmp_path / "out.mp4")
    assert "36 edited" in stdout and "partly occluded: 0" in stdout


# -- the cache ------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["file", "read_only"])
def test_unusable_cache_folder_runs_without_it(face, tmp_path, capsys, monkeypatch, kind):
    from ned.analysis import cache

    target = tmp_path / "cache"
    if kind == "file":
        target.write_text("a file")
    else:
        target.mkdir()
        monkeypatch.setattr(cache, "_writable", lambda folder: False)
    monkeypatch.setenv("NED_CACHE_DIR", str(target))
    cache._warned.clear()
    err, _ = _edit(capsys, face, tmp_path / "o.mp4")
    assert any("running without the cache" in w for w in _warnings(err)), err
    assert probe(tmp_path / "o.mp4").frame_count == 24


@pytest.mark.slow
@pytest.mark.parametrize("spoil", ["bytes", "other_clip"])
def test_bad_cache_entry_is_replaced(face, tmp_path, capsys, monkeypatch, spoil):
    """A damaged entry stopped every later edit ("internal error: LinAlgError"); another
    clip's record under this clip's key was used as it was."""
    from ned.analysis.analyze import file_hash
    from ned.editing import EditConfig
    from ned.editing.run import edit_analysis

    key = edit_analysis(EditConfig.build(emotion="happy")).key()  # the edit's analysis
    monkeypatch.setenv("NED_CACHE_DIR", str(tmp_path / "cache"))
    _edit(capsys, face, tmp_path / "first.mp4")
    entry = tmp_path / "cache" / f"{file_hash(face)[:24]}-{key}.npz"
    good = entry.read_bytes()
    if spoil == "bytes":
        data = bytearray(good)
        at = data.find(b"landmarks.npy") + 5000
        data[at:at + 16] = b"\x7f" * 16
        entry.write_bytes(bytes(data))
    else:
        other = media.encode(tmp_path / "other.mp4", media.face_frames(30, (320, 180))[::-1],
                             fps=30)
        _edit(capsys, other, tmp_path / "o2.mp4")
        other_entry = tmp_path / "cache" / f"{file_hash(other)[:24]}-{key}.npz"
        entry.write_bytes(other_entry.read_bytes())
    err, stdout = _edit(capsys, face, tmp_path / "again.mp4")
    assert any("analysing the clip again" in w for w in _warnings(err)), err
    assert "24 frames, 24 edited" in stdout
    from ned.records import FaceTrack

    assert FaceTrack.load(entry).n_frames == 24  # replaced by a good entry


# -- signals, pipes and leftovers ----------------------------------------------------------------
def _busy_clip(path: Path) -> Path:
    frames = media.face_frames(72, (320, 180))
    return media.encode(path, (frames + frames[::-1]) * 3, fps=30)


@pytest.mark.slow
@pytest.mark.parametrize("sig,group", [("SIGTERM", False), ("SIGHUP", True),
                                       ("SIGINT", False)])
def test_signals_leave_nothing_behind(tmp_path, sig, group):
    """SIGTERM (kill, timeout) and SIGHUP (a closed terminal, sent to the whole process
    group) stop an edit like Ctrl-C: no output, no temporary file, no ned-* folder, no
    analysis spill folder."""
    src = _busy_clip(tmp_path / "long.mp4")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = tmp_path / "out.mp4"
    env = {**os.environ, "NED_CACHE_DIR": str(tmp_path / "cache"), "TMPDIR": str(tmp)}
    p = subprocess.Popen([sys.executable, "-m", "ned.cli", "edit", str(src), "-o", str(out),
                          "--emotion", "happy", "-q"], stderr=subprocess.PIPE, text=True,
                         env=env, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and not list(tmp_path.glob(".out.mp4.*.tmp.mp4")):
        time.sleep(0.05)
    assert list(tmp_path.glob(".out.mp4.*.tmp.mp4")), "the edit never started writing"
    time.sleep(0.3)
    signum = getattr(signal, sig)
    if group:
        os.killpg(p.pid, signum)
    else:
        p.send_signal(signum)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 128 + signum, err
    assert "interrupted" in err and "Traceback" not in err
    assert not out.exists()
    assert [x.name for x in tmp_path.iterdir() if x.name.startswith(".")] == []
    assert list(tmp.iterdir()) == []


@pytest.mark.slow
def test_leftovers_of_a_killed_run_are_removed_by_the_next(face, tmp_path, capsys,
                                                          monkeypatch):
    """SIGKILL cannot be handled: the next run removes what the dead one left (its
    temporary output beside the output, its ned-* folders, its analysis spill folder)."""
    import tempfile

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setenv("NED_CACHE_DIR", str(tmp_path / "cache"))
    stale = [tmp_path / f".o.mp4.{dead.pid}.tmp.mp4", tmp / f"ned-{dead.pid}-x1",
             tmp / f"ned-analyze-{dead.pid}-x2"]
    stale[0].write_bytes(b"half")
    for d in stale[1:]:
        d.mkdir()
        (d / "landmarks.raw").write_bytes(b"\0" * 1000)
    _edit(capsys, face, tmp_path / "o.mp4")
    assert not any(p.exists() for p in stale)
    assert list(tmp.iterdir()) == []


@pytest.mark.slow
def test_closed_stdout_of_a_real_edit(face, tmp_path):
    """`ned edit ... | true`: the output is fine and the exit is 0 (it was exit 3,
    BrokenPipeError)."""
    out = tmp_path / "o.mp4"
    env = {**os.environ, "NED_CACHE_DIR": str(tmp_path / "cache")}
    p = subprocess.Popen([sys.executable, "-m", "ned.cli", "edit", str(face), "-o", str(out),
                          "--emotion", "happy", "-q"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 0, err
    assert "error" not in err and probe(out).frame_count == 24
