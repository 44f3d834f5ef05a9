"""evaluate() on generated pairs (all metrics together), the typed report and its JSON
form, the pair table, and the ned evaluate CLI."""

from __future__ import annotations

import dataclasses
import json

import pytest

from ned.cli import main
from ned.errors import NedError, NedWarning
from ned.metrics import identity as idm
from ned.metrics.evaluate import (
    EmotionScores,
    EvalConfig,
    EvaluationReport,
    IdentityScores,
    PerFrame,
    check_pair,
    evaluate,
)
from ned.metrics.expression import ExpressionScores
from ned.metrics.pixel import PixelScores
from ned.metrics.report import PAIR_ROWS, pair_table
from ned.metrics.speech import SpeechScores, TemporalScores

#: The keys of the JSON report as the dict report (before the typed record) had them:
#: top level, then per nested section. ``target_*`` emotion keys and the ``identity_distance``
#: / ``target_prob`` series only exist with a target / with identity.
TOP_KEYS = ["source", "edited", "frames", "width", "height", "fps", "target", "config",
            "valid_frames", "pixel", "identity", "speech", "temporal", "emotion", "expression",
            "per_frame", "timing"]
SECTION_KEYS = {
    "config": ["target", "identity", "identity_stride", "emotion", "classifier",
               "segment_seconds", "use_cache", "pixel"],
    "valid_frames": ["source", "edited"],
    "pixel": ["apd", "fapd", "mapd", "face_psnr", "face_ssim", "outside_apd",
              "outside_changed"],
    "identity": ["distance_mean", "distance_max", "frechet", "frames"],
    "speech": ["jaw_corr", "lip_corr", "syllable_ratio", "lip_gap_mae", "mouth_error",
               "mouth_error_px", "frames"],
    "temporal": ["jitter_source", "jitter_edited", "jitter_ratio"],
    "timing": ["seconds", "analysis_seconds", "metrics_seconds", "fps"],
}
CONFIG_PIXEL_KEYS = ["mouth_box", "crop_size", "outside_margin", "changed_threshold"]
EMOTION_KEYS = ["classifier", "labels", "frames", "source_fraction", "edited_fraction",
                "transition", "segments"]
EMOTION_TARGET_KEYS = ["target_fraction", "target_prob_mean", "source_target_fraction",
                       "source_target_prob_mean"]
SEGMENT_KEYS = ["start", "end", "frames", "source", "source_probs", "edited", "edited_probs"]


@pytest.fixture(scope="module")
def same(clips, tracks):
    # identity on every 4th frame: the dlib embedder is the fixture's cost (the answers
    # are the same on any subset of the frames)
    return evaluate(clips["source"], clips["source"],
                    EvalConfig(target="neutral", identity_stride=4),
                    source_track=tracks["source"], edited_track=tracks["source"])


@pytest.fixture(scope="module")
def shifted(clips, tracks):
    return evaluate(clips["source"], clips["shift2"],
                    EvalConfig(target="neutral", identity_stride=4),
                    source_track=tracks["source"], edited_track=tracks["shift2"])


@pytest.fixture(scope="module")
def bare(clips, tracks):
    """No identity, no classifier, no target: the optional parts left out."""
    return evaluate(clips["source"], clips["blur"], EvalConfig(identity=False, emotion=False),
                    source_track=tracks["source"], edited_track=tracks["blur"])


def test_identical_videos_known_answers(same):
    assert same.pixel.apd == same.pixel.fapd == same.pixel.mapd == 0.0
    assert same.speech.jaw_corr == 1.0 and same.speech.lip_corr == 1.0
    assert same.speech.syllable_ratio == 1.0
    assert same.speech.mouth_error == 0.0
    x = same.expression
    assert x.target == "neutral" and x.frames == same.valid_frames.source
    assert all(g.source == g.edited for g in x.groups.values())
    assert all(g.change == 0.0 for g in x.geometric.values())
    assert same.temporal.jitter_ratio == 1.0
    e = same.emotion
    assert e.target == "neutral" and e.target_fraction == e.source_target_fraction
    assert sum(map(sum, e.transition)) == same.frames
    assert same.timing.fps > 0
    if idm.available():
        assert same.identity.distance_mean == 0.0
        assert same.identity.frechet == pytest.approx(0.0, abs=1e-9)


def test_two_pixel_shift_known_answers(shifted):
    # the analyser sees the face 2 px further right: mouth landmarks move by ~2 px
    assert shifted.speech.mouth_error_px == pytest.approx(2.0, abs=0.5)
    assert shifted.speech.lip_corr > 0.95 and shifted.speech.jaw_corr > 0.8
    assert shifted.pixel.apd > 1.0
    if idm.available():  # same person: small but non-zero distance
        assert 0.0 < shifted.identity.distance_mean < 0.3
        assert 0.0 < shifted.identity.frechet < 0.1


def test_report_is_a_frozen_typed_record(same, bare):
    assert isinstance(same.pixel, PixelScores) and isinstance(same.speech, SpeechScores)
    assert isinstance(same.temporal, TemporalScores) and isinstance(same.emotion, EmotionScores)
    assert isinstance(same.per_frame, PerFrame) and len(same.per_frame.fapd) == same.frames
    assert same.identity is None or isinstance(same.identity, IdentityScores)
    assert same.config == EvalConfig(target="neutral", identity_stride=4)
    assert same.target == "neutral"
    assert isinstance(same.expression, ExpressionScores)
    assert bare.identity is None and bare.emotion is None and bare.target is None
    assert bare.expression is None
    assert bare.per_frame.identity_distance is None and bare.per_frame.target_prob is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        same.frames = 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        same.pixel.apd = 1.0


@pytest.mark.parametrize("name", ["same", "shifted", "bare"])
def test_to_json_from_json_round_trip(request, name):
    report = request.getfixturevalue(name)
    data = report.to_json()
    text = json.dumps(data, allow_nan=False)  # strict JSON: no NaN left
    back = EvaluationReport.from_json(json.loads(text))
    assert back == report
    assert back.to_json() == data


@pytest.mark.parametrize("name", ["same", "bare"])
def test_to_json_has_the_keys_of_the_dict_report(request, name):
    report = request.getfixturevalue(name)
    d = report.to_json()
    assert list(d) == TOP_KEYS
    for section, keys in SECTION_KEYS.items():
        if section == "identity" and d["identity"] is None:
            assert report.identity is None
            continue
        assert list(d[section]) == keys, section
    assert list(d["config"]["pixel"]) == CONFIG_PIXEL_KEYS
    series = ["fapd", "source_emotion", "edited_emotion"]
    if report.identity is not None:
        series.insert(1, "identity_distance")
    if report.target is not None:
        series.append("target_prob")
    assert list(d["per_frame"]) == series
    if report.target is None:
        assert d["expression"] is None
    else:
        assert list(d["expression"]) == ["target", "frames", "groups", "geometric", "passed"]
    if report.emotion is None:
        assert d["emotion"] is None
        return
    e = d["emotion"]
    assert list(e) == EMOTION_KEYS + (EMOTION_TARGET_KEYS if report.target else [])
    assert list(e["frames"]) == ["source", "edited"]
    assert list(e["source_fraction"]) == list(e["edited_fraction"]) == e["labels"]
    assert e["segments"] and all(list(s) == SEGMENT_KEYS for s in e["segments"])


def test_report_written_before_the_expression_section_reads_back(same):
    data = same.to_json()
    del data["expression"]
    del data["speech"]["syllable_ratio"]
    back = EvaluationReport.from_json(data)
    assert back.expression is None and back.speech.syllable_ratio is None
    assert back.speech.lip_corr == same.speech.lip_corr


def test_to_json_cleans_nan(same):
    fapd = list(same.per_frame.fapd)
    fapd[0] = float("nan")
    pixel = dataclasses.replace(same.pixel, face_ssim=float("inf"))
    odd = dataclasses.replace(same, pixel=pixel,
                              per_frame=dataclasses.replace(same.per_frame, fapd=tuple(fapd)))
    d = odd.to_json()
    assert d["per_frame"]["fapd"][0] is None and d["pixel"]["face_ssim"] is None
    json.dumps(d, allow_nan=False)


def test_pair_table_prints_every_row(same, bare):
    text = pair_table(same)
    lines = text.splitlines()
    assert lines[0] == f"source: {same.source}" and "target: neutral" in lines[2]
    for section, attr, label, _ in PAIR_ROWS:
        if section == "identity" and same.identity is None:
            continue
        row = [ln for ln in lines if ln.startswith(label + " ")]
        assert len(row) == 1, label
        assert (getattr(getattr(same, section), attr) is None) == row[0].endswith("n/a")
    assert "emotion per segment" in text and "frames/s" in lines[-1]
    # neutral names no group: the header, its one ceiling, the geometric changes
    assert lines[-4].startswith("expression vs target table (neutral")
    assert "mouthSmile" in lines[-3] and "ceiling 0.20" in lines[-3]
    assert lines[-2].startswith("  geometric change (IOD): corners_down +0.0000")
    assert sum(" s  " in ln for ln in lines) == len(same.emotion.segments)
    # without identity, classifier and target: one n/a identity line, no emotion rows
    text = pair_table(bare)
    assert "n/a (identity extra not installed)" in text and "target: none" in text
    for section, _, label, _ in PAIR_ROWS:
        assert (label in text) == (section not in ("identity", "emotion")
                                   or label.startswith("identity distance (dlib")), label
    assert "emotion per segment" not in text and "expression vs target" not in text


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


@pytest.mark.slow  # 1.5-2 s; the module keeps fast tests of its kind
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
    report = EvaluationReport.from_json(data)
    assert report.emotion.target == "happy" and report.to_json() == data


def test_cli_usage_errors(clips, capsys):
    assert main(["evaluate", str(clips["source"])]) == 1
    assert "SOURCE and EDITED" in capsys.readouterr().err


def test_cli_refuses_to_overwrite_an_input(clips, capsys):
    src = clips["source"]
    size = src.stat().st_size
    assert main(["evaluate", str(src), str(src), "-o", str(src)]) == 1
    assert "overwrite" in capsys.readouterr().err and src.stat().st_size == size


# -- unrelated clips and folders (issue 17) -----------------------------------------------------
def _reversed(track):
    return dataclasses.replace(track, **{k: getattr(track, k)[::-1].copy() for k in (
        "landmarks", "landmarks_raw", "blendshapes", "blendshapes_raw", "transforms",
        "confidence", "valid")})


def test_unrelated_clips_are_warned_about(clips, tracks, tmp_path):
    """The source against itself played backwards: the same size and length, but it
    differs away from the face, so it is no edit of the source (scored without a word)."""
    from ned.io import VideoWriter, read_frames
    from ned.metrics.evaluate import UNRELATED_OUTSIDE_APD

    frames = [f.image for f in read_frames(clips["source"])]
    back = tmp_path / "backwards.mp4"
    with VideoWriter(back, like=clips["source"]) as w:
        for f, img in zip(read_frames(clips["source"]), frames[::-1]):
            w.write(img, f.pts)
    cfg = EvalConfig(identity=False, emotion=False)
    with pytest.warns(NedWarning, match="is it an edit of that clip"):
        r = evaluate(clips["source"], back, cfg, source_track=tracks["source"],
                     edited_track=_reversed(tracks["source"]))
    assert r.pixel.outside_apd > UNRELATED_OUTSIDE_APD


def test_an_edit_like_pair_is_not_warned_about(bare):
    from ned.metrics.evaluate import unrelated_warning

    assert unrelated_warning(bare) is None   # a blurred copy: the same clip


def test_cli_folders_are_named(clips, tmp_path, capsys):
    assert main(["evaluate", str(tmp_path), str(clips["source"])]) == 1
    assert "is a folder" in capsys.readouterr().err
    assert main(["evaluate", str(clips["source"]), str(clips["source"]), "-o",
                 str(tmp_path)]) == 1
    assert "is a folder" in capsys.readouterr().err
