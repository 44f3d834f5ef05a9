"""evaluate() on generated pairs (all metrics together) and the ned evaluate CLI."""

from __future__ import annotations

import json

import pytest

from ned.cli import main
from ned.errors import NedError
from ned.metrics import identity as idm
from ned.metrics.evaluate import EvalConfig, check_pair, evaluate


@pytest.fixture(scope="module")
def same(clips, tracks):
    return evaluate(clips["source"], clips["source"], EvalConfig(target="neutral"),
                    source_track=tracks["source"], edited_track=tracks["source"])


@pytest.fixture(scope="module")
def shifted(clips, tracks):
    return evaluate(clips["source"], clips["shift2"], EvalConfig(target="neutral"),
                    source_track=tracks["source"], edited_track=tracks["shift2"])


def test_identical_videos_known_answers(same):
    assert same["pixel"]["apd"] == same["pixel"]["fapd"] == same["pixel"]["mapd"] == 0.0
    assert same["speech"]["jaw_corr"] == 1.0 and same["speech"]["lip_corr"] == 1.0
    assert same["speech"]["mouth_error"] == 0.0
    assert same["temporal"]["jitter_ratio"] == 1.0
    e = same["emotion"]
    assert e["target_fraction"] == e["source_target_fraction"]
    assert sum(map(sum, e["transition"])) == same["frames"]
    assert same["timing"]["fps"] > 0
    if idm.available():
        assert same["identity"]["distance_mean"] == 0.0
        assert same["identity"]["frechet"] == pytest.approx(0.0, abs=1e-9)


def test_two_pixel_shift_known_answers(shifted):
    # the analyser sees the face 2 px further right: mouth landmarks move by ~2 px
    assert shifted["speech"]["mouth_error_px"] == pytest.approx(2.0, abs=0.5)
    assert shifted["speech"]["lip_corr"] > 0.95 and shifted["speech"]["jaw_corr"] > 0.8
    assert shifted["pixel"]["apd"] > 1.0
    if idm.available():  # same person: small but non-zero distance
        assert 0.0 < shifted["identity"]["distance_mean"] < 0.3
        assert 0.0 < shifted["identity"]["frechet"] < 0.1


def test_bad_inputs(clips, single_face_path, carphone_path, no_face_path):
    with pytest.raises(NedError, match="differ in length"):
        check_pair(clips["source"], clips["short"])
    with pytest.raises(NedError, match="differ in size"):
        check_pair(single_face_path, carphone_path)
    with pytest.raises(NedError, match="differ in frame rate"):
        check_pair(clips["source"], clips["slow"])
    with pytest.raises(NedError, match="no face found"):
        evaluate(no_face_path, no_face_path, EvalConfig(identity=False))
    with pytest.raises(NedError, match="unknown target"):
        EvalConfig(target="bored")


@pytest.mark.parametrize("pair,message", [
    (("source", "short"), "differ in length"),
    (("single", "carphone"), "differ in size"),
    (("noface", "noface"), "no face found"),
])
def test_cli_bad_inputs_one_line_nonzero(clips, single_face_path, carphone_path,
                                         no_face_path, tmp_path, capsys, pair, message):
    paths = {**clips, "single": single_face_path, "carphone": carphone_path,
             "noface": no_face_path}
    out = tmp_path / "r.json"
    code = main(["evaluate", str(paths[pair[0]]), str(paths[pair[1]]), "-o", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 1 and message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_cli_pair_prints_table_and_writes_json(clips, tmp_path, capsys):
    out = tmp_path / "report.json"
    code = main(["evaluate", str(clips["source"]), str(clips["blur"]), "--target", "happy",
                 "--no-identity", "-o", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "FAPD" in text and "frames/s" in text
    data = json.loads(out.read_text())
    assert data["target"] == "happy" and data["pixel"]["fapd"] > 0
    assert data["identity"] is None
    assert len(data["per_frame"]["fapd"]) == data["frames"]


def test_cli_usage_errors(clips, capsys):
    assert main(["evaluate", str(clips["source"])]) == 1
    assert "SOURCE and EDITED" in capsys.readouterr().err


def test_cli_refuses_to_overwrite_an_input(clips, capsys):
    src = clips["source"]
    size = src.stat().st_size
    assert main(["evaluate", str(src), str(src), "-o", str(src)]) == 1
    assert "overwrite" in capsys.readouterr().err and src.stat().st_size == size
