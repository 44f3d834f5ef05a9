"""EditConfig: flat options into groups, validation on construction, overrides that must
agree with the config; EditReport's summary."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import ned
from ned.editing.config import (
    AUTO_CRF_BPP,
    DEFAULT_CRF,
    MIN_AUTO_CRF,
    OPTION_GROUPS,
    EditConfig,
    EditReport,
    PassReason,
    RenderConfig,
    TargetConfig,
    TimeRange,
    source_crf,
)
from ned.editing.guards import GuardConfig
from ned.errors import NedError


def test_build_groups_flat_options():
    cfg = EditConfig.build(emotion="sad", intensity=0.5, start=1.0, end=2.0, gain=1.5, crf=0,
                           face_index=1, occlusion=False, reference=None)
    assert cfg.target == TargetConfig(emotion="sad", intensity=0.5)
    assert cfg.range == TimeRange(start=1.0, end=2.0)
    assert cfg.render == RenderConfig(gain=1.5, occlusion=False)
    assert (cfg.crf, cfg.face_index, cfg.use_cache) == (0, 1, True)
    assert EditConfig.build(emotion="happy").crf is None   # from the source (source_crf)
    for name in OPTION_GROUPS:  # every flat option can be read back
        cfg.option(name)


def test_paths_are_stored_as_strings(tmp_path):
    cfg = EditConfig.build(reference=tmp_path / "ref.mp4", manipulator=Path("m"),
                           renderer=tmp_path / "r.safetensors")
    assert cfg.target.reference == str(tmp_path / "ref.mp4")
    assert isinstance(cfg.target.manipulator, str) and isinstance(cfg.render.renderer, str)


@pytest.mark.parametrize("options,message", [
    ({}, "exactly one of"),
    ({"emotion": "happy", "reference": "r.mp4"}, "exactly one of"),
    ({"emotion": "joy"}, "unknown emotion"),
    ({"emotion": "happy", "intensity": 2.0}, "outside"),
    ({"emotion": "happy", "intensity": math.nan}, "finite"),
    ({"emotion": "happy", "start": math.nan}, "finite"),
    ({"emotion": "happy", "end": math.inf}, "finite"),
    ({"emotion": "happy", "start": 2.0, "end": 1.0}, "after --start"),
    ({"emotion": "happy", "ramp": -1.0}, "ramp"),
    ({"emotion": "happy", "gain": 4.0}, "gain"),
    ({"emotion": "happy", "crf": 60}, "crf"),
    ({"emotion": "happy", "face_index": -1}, "face index"),
    ({"emotion": "happy", "blend_levels": 0}, "blend levels"),
    ({"emotion": "happy", "mask_grow": -0.1}, "mask"),
    ({"emotion": "happy", "seed": 1.5}, "seed"),
    ({"emotion": "happy", "colour": "red"}, "unknown edit option"),
])
def test_bad_options_fail_on_construction(options, message):
    with pytest.raises(NedError, match=message):
        EditConfig.build(**options)


def test_groups_are_checked():
    with pytest.raises(NedError, match="TimeRange"):
        EditConfig(target=TargetConfig(emotion="happy"), range=(0, 1))  # type: ignore[arg-type]


def test_replace_validates_again():
    cfg = EditConfig.build(emotion="sad", intensity=0.8, guards=GuardConfig(gap_ramp=2))
    new = cfg.replace(intensity=0.4, start=1.0)
    assert new.target.intensity == 0.4 and new.range.start == 1.0
    assert new.guards.gap_ramp == 2 and new.target.emotion == "sad"
    assert cfg.target.intensity == 0.8  # frozen: the original is unchanged
    with pytest.raises(NedError, match="outside"):
        cfg.replace(intensity=9.0)


def test_overrides_must_agree_with_the_config():
    cfg = EditConfig.build(emotion="sad", crf=0)
    assert cfg.with_overrides({"emotion": "sad", "crf": 0}) is cfg
    with pytest.raises(NedError, match="emotion is given twice"):
        cfg.with_overrides({"emotion": "happy"})
    with pytest.raises(NedError, match="crf is given twice"):
        cfg.with_overrides({"crf": 16})


def test_public_edit_reports_a_conflict_before_any_work(tmp_path, single_face_path):
    cfg = EditConfig.build(emotion="sad")
    with pytest.raises(NedError, match="given twice"):
        ned.edit(single_face_path, tmp_path / "o.mp4", cfg, emotion="happy")
    with pytest.raises(NedError, match="must be an EditConfig"):
        ned.edit(single_face_path, tmp_path / "o.mp4", {"emotion": "sad"})  # type: ignore
    assert not any(tmp_path.iterdir())


def test_public_names_are_exported():
    assert ned.EditConfig is EditConfig and ned.EditReport is EditReport
    assert set(ned.__all__) >= {"edit", "EditConfig", "EditReport"}
    with pytest.raises(AttributeError):
        ned.NoSuchThing  # noqa: B018


def test_report_summary_names_every_reason(tmp_path):
    rep = EditReport(output=tmp_path / "o.mp4", preview=None, frames=10, edited=6, unfolded=1)
    rep.passed[PassReason.NO_FACE] = 3
    rep.passed[PassReason.POSE] = 1
    line = rep.summary()
    assert "10 frames, 6 edited" in line and "no face 3, pose 1" in line
    assert "shrunk against folds: 1" in line and "outside range" not in line
    assert "re-measured" not in line
    assert str(PassReason.OUTSIDE_RANGE) == "outside range"
    rep.calibration = {"browDown": {"gain": 2.0, "level": 0.61, "target": 0.7},
                       "mouthSmile": {"gain": 1.5, "level": 0.05, "ceiling": 0.2}}
    assert ("re-measured while calibrating: browDown 0.61 of 0.70; mouthSmile 0.05 (at most "
            "0.20)") in rep.summary()


# appearance cues
def test_cues_default_order_and_bad_names():
    from ned.editing.config import CUES, DEFAULT_CUES

    assert RenderConfig().cues is None and set(DEFAULT_CUES) <= set(CUES)
    # the default follows the target: the interior where its posture opens the mouth
    assert EditConfig.build(emotion="happy").cues == DEFAULT_CUES
    assert EditConfig.build(emotion="surprised").cues == ("creases", "interior", "eyes")
    assert EditConfig.build(emotion="disgusted").resolved_render.cues == CUES
    assert EditConfig.build(reference="ref.mp4").cues == DEFAULT_CUES
    # ... and is not frozen into a config changed to another target
    assert EditConfig.build(emotion="fear").replace(emotion="sad").cues == DEFAULT_CUES
    assert EditConfig.build(emotion="fear", cues=("eyes",)).cues == ("eyes",)
    assert RenderConfig(cues=("eyes", "creases")).cues == ("creases", "eyes")  # canonical
    assert RenderConfig(cues=()).cues == ()
    with pytest.raises(NedError, match="unknown appearance cue 'wrinkles'"):
        RenderConfig(cues=("wrinkles",))
    with pytest.raises(NedError, match="sequence of names"):
        RenderConfig(cues="creases")
    cfg = EditConfig.build(emotion="happy", cues=("eyes",))
    assert cfg.render.cues == ("eyes",)
    # the same cues in another order agree with the config; different ones are an error
    assert cfg.with_overrides({"cues": ("eyes",)}) is cfg
    with pytest.raises(NedError, match="given twice"):
        cfg.with_overrides({"cues": ("creases",)})


def test_cli_rejects_an_unknown_cue_in_one_line(single_face_path, tmp_path, capsys):
    from ned.cli import main

    out = tmp_path / "o.mp4"
    rc = main(["edit", str(single_face_path), "--emotion", "happy", "-o", str(out),
               "--cues", "creases,bogus", "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "unknown appearance cue 'bogus'" in err[0]
    assert not out.exists()


def test_parse_cues_known_answers():
    from ned.editing.config import parse_cues

    assert parse_cues("creases,eyes") == ("creases", "eyes")
    assert parse_cues(" eyes , creases,") == ("eyes", "creases")
    assert parse_cues("none") == ()
    assert parse_cues("") == ()
    assert RenderConfig(cues=parse_cues("eyes,creases")).cues == ("creases", "eyes")


def test_source_crf_known_answers():
    """16 for web video, 6 lower per doubling of the source's bits per pixel above
    AUTO_CRF_BPP, never under MIN_AUTO_CRF; unknown: the default."""
    assert source_crf(None) == source_crf(float("nan")) == DEFAULT_CRF == 16
    assert source_crf(0.1) == source_crf(AUTO_CRF_BPP) == 16
    assert source_crf(2 * AUTO_CRF_BPP) == 10 and source_crf(2 ** 0.5 * AUTO_CRF_BPP) == 13
    assert source_crf(1.55) == source_crf(100.0) == MIN_AUTO_CRF == 8


def test_output_crf_is_the_edits_own_else_the_sources(single_face_path, carphone_path):
    from ned.editing.run import output_crf
    from ned.io import probe

    auto = EditConfig.build(emotion="happy")
    assert output_crf(auto, probe(single_face_path)) == 16     # 0.04 bits a pixel
    assert output_crf(auto, probe(carphone_path)) == 8         # 1.55: near-lossless
    assert output_crf(EditConfig.build(emotion="happy", crf=20), probe(carphone_path)) == 20
    for bad in (-1, 52, 1.5, True):
        with pytest.raises(NedError, match="crf"):
            EditConfig.build(emotion="happy", crf=bad)
