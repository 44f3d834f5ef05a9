"""``ned edit --renderer``: the neural renderer inside the streamed edit."""

from __future__ import annotations

import numpy as np
import pytest

from ned.cli import main
from ned.io import probe, read_frames
from ned.render.neural.checkpoint import save_renderer
from ned.render.neural.nets import build_nets


@pytest.mark.slow
def test_edit_with_neural_renderer_renders_every_face_frame(tmp_path, micro_cfg,
                                                            single_face_path, capsys):
    ckpt = save_renderer(tmp_path / "actor.safetensors", build_nets(micro_cfg), micro_cfg)
    out = tmp_path / "out.mp4"
    rc = main(["edit", str(single_face_path), "-o", str(out), "--emotion", "happy",
               "--renderer", str(ckpt), "-q"])
    msg = capsys.readouterr().out
    assert rc == 0, msg
    assert "72 frames, 72 edited" in msg  # frames 0 and 1 included
    a, b = probe(single_face_path), probe(out)
    assert (a.frame_count, a.width, a.height) == (b.frame_count, b.width, b.height)
    src = next(read_frames(single_face_path, start=0, stop=1)).image.astype(int)
    got = next(read_frames(out, start=0, stop=1)).image.astype(int)
    assert np.abs(src - got)[:, :150].mean() < 1.5  # background left of the face untouched
    assert np.abs(src - got)[150:250, 270:370].mean() > 1.0  # the face was re-rendered


def test_missing_renderer_file(tmp_path, single_face_path, capsys):
    rc = main(["edit", str(single_face_path), "-o", str(tmp_path / "o.mp4"), "--emotion",
               "happy", "--renderer", str(tmp_path / "none.safetensors"), "-q"])
    assert rc == 1 and "no such renderer" in capsys.readouterr().err
    assert not (tmp_path / "o.mp4").exists()
