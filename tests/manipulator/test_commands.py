"""`ned manipulate` / `ned train-manipulator` end to end, including bad inputs."""

import numpy as np
import pytest

from ned.cli import main
from ned.manipulator.nets import NetConfig, build_nets
from ned.manipulator.train import TrainConfig, export_manipulator
from ned.records import ExpressionTrack

from .conftest import make_facetrack


@pytest.fixture(scope="module")
def files(tmp_path_factory, speech_tracks):
    d = tmp_path_factory.mktemp("cli")
    cp = speech_tracks["carphone"]["blendshapes"]
    make_facetrack(cp).save(d / "clip.npz")
    make_facetrack(speech_tracks["single_face"]["blendshapes"]).save(d / "ref.npz")
    make_facetrack(cp[:20], valid=np.zeros(20, bool)).save(d / "empty.npz")
    cfg = TrainConfig(net=NetConfig(g_hidden=16, g_decoder=16, d_hidden=8, m_hidden=8))
    export_manipulator(build_nets(cfg.net), cfg, d / "tiny")
    return d


def test_manipulate_label_and_plot(files, tmp_path):
    out, png = tmp_path / "o.npz", tmp_path / "o.png"
    rc = main(["manipulate", str(files / "clip.npz"), "--emotion", "happy", "--intensity",
               "0.8", "--seed", "2", "--model", str(files / "tiny"), "-o", str(out),
               "--plot", str(png)])
    assert rc == 0
    rec = ExpressionTrack.load(out)
    assert rec.expressions.shape == (120, 52) and rec.target == "happy"
    assert rec.intensity == pytest.approx(0.8) and rec.seed == 2
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"


def test_manipulate_reference(files, tmp_path):
    out = tmp_path / "r.npz"
    assert main(["manipulate", str(files / "clip.npz"), "--reference", str(files / "ref.npz"),
                 "--model", str(files / "tiny"), "-o", str(out)]) == 0
    assert ExpressionTrack.load(out).target.startswith("reference:")


@pytest.mark.parametrize("args, message", [
    (["--emotion", "bored"], "unknown emotion"),
    (["--emotion", "happy", "--intensity", "1.6"], "outside [0.0, 1.5]"),
    (["--emotion", "happy", "--intensity", "-0.5"], "outside [0.0, 1.5]"),
    ([], "exactly one of --emotion or --reference"),
    (["--reference", "{d}/empty.npz"], "no valid frame"),
    (["--reference", "{d}/missing.npz"], "not found"),
    (["--emotion", "sad", "--model", "{d}/nothing"], "not found"),
    (["--emotion", "sad", "--plot", "{d}/no/dir/p.png"], "output folder does not exist"),
])
def test_bad_inputs(files, tmp_path, capsys, args, message):
    out = tmp_path / "bad.npz"
    args = [a.replace("{d}", str(files)) for a in args]
    rc = main(["manipulate", str(files / "clip.npz"), "-o", str(out), *args])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and message in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.iterdir())


def test_other_schema_version(files, tmp_path, capsys):
    old = tmp_path / "old.npz"
    with np.load(files / "clip.npz") as z:
        data = {k: z[k] for k in z.files}
    data["__schema__"] = np.array(0)
    np.savez(old, **data)
    out = tmp_path / "o.npz"
    assert main(["manipulate", str(old), "--emotion", "sad", "-o", str(out)]) == 1
    assert "schema version 0" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_train_manipulator_cli(files, tmp_path):
    rc = main(["train-manipulator", "--synthetic", str(files / "clip.npz"), "--run-dir",
               str(tmp_path / "run"), "--iters", "2", "--batch", "2", "--g-hidden", "8",
               "--residual", "--warmup-iters", "1", "--export", str(tmp_path / "m")])
    assert rc == 0
    assert (tmp_path / "run" / "stats.jsonl").exists()
    assert (tmp_path / "m.safetensors").exists() and (tmp_path / "m.json").exists()
    assert main(["manipulate", str(files / "clip.npz"), "--emotion", "fear", "--model",
                 str(tmp_path / "m"), "-o", str(tmp_path / "e.npz")]) == 0


def test_train_manipulator_cli_errors(files, tmp_path, capsys):
    assert main(["train-manipulator", "--labels", str(tmp_path / "none.json"), "--run-dir",
                 str(tmp_path / "r")]) == 1
    assert "labels file not found" in capsys.readouterr().err
    (tmp_path / "l.json").write_text('{"format": "ned-emotion-labels", "clips": []}')
    assert main(["train-manipulator", "--labels", str(tmp_path / "l.json"), "--run-dir",
                 str(tmp_path / "r"), "--warmup-iters", "5"]) == 1
    assert "need --synthetic" in capsys.readouterr().err


@pytest.mark.parametrize("target", ["track", "reference", "video", "folder"])
def test_output_never_replaces_an_input_or_a_video(files, tmp_path, capsys, target):
    """`-o` equal to the track or the reference, or naming a video, is refused (it was
    overwritten with npz data, exit 0)."""
    track, ref = tmp_path / "clip.npz", tmp_path / "ref.npz"
    track.write_bytes((files / "clip.npz").read_bytes())
    ref.write_bytes((files / "ref.npz").read_bytes())
    video = tmp_path / "some.mp4"
    video.write_bytes(b"a video")
    (tmp_path / "dir.npz").mkdir()
    out = {"track": track, "reference": ref, "video": video, "folder": tmp_path / "dir.npz"}
    before = {p: p.read_bytes() for p in (track, ref, video)}
    rc = main(["manipulate", str(track), "--reference", str(ref), "--model",
               str(files / "tiny"), "-o", str(out[target])])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1, err
    assert {"track": "overwrite the input", "reference": "overwrite the input",
            "video": "must be a .npz file", "folder": "is a folder"}[target] in err
    assert {p: p.read_bytes() for p in before} == before


def test_a_folder_as_the_track_is_named(files, tmp_path, capsys):
    assert main(["manipulate", str(tmp_path), "--emotion", "sad", "-o",
                 str(tmp_path / "o.npz")]) == 1
    assert "is a folder" in capsys.readouterr().err
