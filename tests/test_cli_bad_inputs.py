"""Bad inputs to ``ned analyze``: one clear error line, the right exit code, no output left."""

import subprocess
import sys
from fractions import Fraction

import av
import numpy as np
import pytest

from ned.cli import main
from tests.conftest import make_video


def _zero_frame(path):
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 64, "yuv420p"
        c.start_encoding()  # header and an empty video stream, no frames
    return path


def _audio_only(path):
    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=44100)
        t = 0
        for _ in range(20):
            samples = (np.sin(np.arange(1024) / 10.0) * 0.3).astype(np.float32)[None]
            fr = av.AudioFrame.from_ndarray(np.repeat(samples, 1, 0), format="fltp",
                                            layout="mono")
            fr.sample_rate, fr.pts, fr.time_base = 44100, t, Fraction(1, 44100)
            t += 1024
            for p in s.encode(fr):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


def _truncated(path, src):
    data = src.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


def _gray_odd(path):
    frames = [np.repeat((np.arange(75 * 101).reshape(75, 101, 1) % 251).astype(np.uint8), 3, 2)
              for _ in range(4)]
    return make_video(path, frames, pix_fmt="gray")


def _one_px(path):
    return make_video(path, [np.full((1, 1, 3), 128, np.uint8)] * 3, pix_fmt="yuv444p")


CASES = {
    "missing": (lambda p, s: p, 1, "no such file"),
    "text": (lambda p, s: (p.write_text("hello"), p)[1], 1, "not a readable video"),
    "zero_frames": (lambda p, s: _zero_frame(p), 1, "has no video"),
    "audio_only": (lambda p, s: _audio_only(p), 1, "no video stream"),
    "truncated": (lambda p, s: _truncated(p, s), 1, "not a readable video"),
    "one_pixel": (lambda p, s: _one_px(p), 0, "no face found"),
    "gray_odd": (lambda p, s: _gray_odd(p), 0, "no face found"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_analyze_bad_input(case, tmp_path, capsys, single_face_path):
    make, code, message = CASES[case]
    src = make(tmp_path / "in.mp4", single_face_path)
    out = tmp_path / "out.npz"
    rc = main(["analyze", str(src), "-o", str(out), "-q"])
    err = capsys.readouterr().err.strip()
    assert rc == code, err
    assert message in err and len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    assert out.exists() == (code == 0)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("in.mp4", "out.npz")]
    assert leftovers == []


def test_console_script_error_has_no_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "ned.cli", "analyze", str(tmp_path / "x.mp4")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert r.stderr.strip().startswith("ned: error:") and "Traceback" not in r.stderr


def test_output_must_not_be_input(single_face_path, capsys):
    rc = main(["analyze", str(single_face_path), "-o", str(single_face_path)])
    assert rc == 1 and "input" in capsys.readouterr().err
