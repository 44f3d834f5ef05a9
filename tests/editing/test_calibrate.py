"""The per-clip calibration: its update rule, goals, cache and a short real loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ned.analysis.stream import record_chunks
from ned.editing import calibrate as C
from ned.editing.config import EditConfig
from ned.editing.geometry import MAX_GAINS, START_GAINS
from ned.editing.run import make_planner
from ned.errors import NedError
from ned.facs import GEOMETRIC_FLOORS, TARGETS, group_indices
from ned.io import probe, read_frames


def test_label_goals_leave_geometric_groups_out():
    targets, ceilings = C.label_goals("angry")
    assert targets == {g: v for g, v in TARGETS["angry"].items() if g not in GEOMETRIC_FLOORS}
    assert "mouthPress" not in targets and ceilings == {"mouthSmile": 0.2}
    assert C.label_goals("neutral")[0] == {}


def test_reference_goals_take_what_the_reference_shows():
    bs = np.zeros((10, 52), np.float32)
    bs[:, group_indices("mouthSmile")] = 0.6
    bs[:, group_indices("browDown")] = 0.05
    targets, ceilings = C.reference_goals(bs, np.ones(10, bool))
    assert targets == {"mouthSmile": pytest.approx(0.6)} and ceilings == {}
    with pytest.raises(NedError, match="no frame with a face"):
        C.reference_goals(bs, np.zeros(10, bool))


def test_step_raises_lowers_and_steps_back():
    cal = C.CalibrationConfig()
    gains = {**START_GAINS, "eyeSquint": 1.5}
    lv = {"browDown": 0.2, "eyeSquint": 0.9, "mouthSmile": 0.5}
    targets, ceilings = {"browDown": 0.7, "eyeSquint": 0.4}, {"mouthSmile": 0.2}
    hist = [{"gains": gains, "levels": lv}]
    new = C._step(gains, lv, hist, targets, ceilings, set(), cal)
    assert new["browDown"] == pytest.approx(gains["browDown"] * cal.max_step)  # far below
    assert new["eyeSquint"] == pytest.approx(gains["eyeSquint"] * 0.85)         # overshot
    assert new["mouthSmile"] > gains["mouthSmile"]                              # grin left
    # an overshoot never takes a gain below its start: the posed geometry is the floor
    low = C._step(START_GAINS, lv, hist, targets, ceilings, set(), cal)
    assert low["eyeSquint"] == START_GAINS["eyeSquint"]
    # the raise made browDown worse: back to the previous gain, and it stays there
    worse = {**lv, "browDown": 0.1}
    frozen: set[str] = set()
    again = C._step(new, worse, [*hist, {"gains": new, "levels": worse}], targets, ceilings,
                    frozen, cal)
    assert again["browDown"] == pytest.approx(gains["browDown"])
    assert "browDown" in frozen
    assert C._step({**gains, "eyeWide": 1.2}, {"eyeWide": 0.0}, hist, {"eyeWide": 0.5}, {},
                   set(), cal)["eyeWide"] == MAX_GAINS["eyeWide"]


def test_score_prefers_reaching_targets_under_ceilings():
    t, c = {"browDown": 0.6}, {"mouthSmile": 0.2}
    assert C._score({"browDown": 0.6, "mouthSmile": 0.1}, t, c) == pytest.approx(1.0)
    assert C._score({"browDown": 0.3, "mouthSmile": 0.1}, t, c) == pytest.approx(0.5)
    assert C._score({"browDown": 0.6, "mouthSmile": 0.4}, t, c) == pytest.approx(0.0)


def test_cache_round_trip(tmp_path):
    key = C.cache_key({"clip": "abc", "emotion": "sad"})
    assert key == C.cache_key({"emotion": "sad", "clip": "abc"})
    assert key != C.cache_key({"clip": "abc", "emotion": "angry"})
    cal = C.Calibration({"browDown": 2.0}, {"browDown": 0.7}, {}, {"browDown": 0.65},
                        [{"gains": {"browDown": 2.0}, "levels": {"browDown": 0.65}}], 0.5)
    path = C.cache_file(tmp_path, key)
    C.store(path, cal)
    assert C.load_cached(path) == cal
    path.write_text("{broken")
    assert C.load_cached(path) is None
    C.store(tmp_path / "no" / "such" / "folder.json", cal)   # not writable: skipped


def test_remeasure_crops_the_face(single_face_path, single_face_track):
    m = C.Remeasure(C.CalibrationConfig(resolution=128))
    try:
        image = next(read_frames(single_face_path, start=40, stop=41)).image
        crop = m.crop(image, single_face_track.landmarks[40])
        assert crop.shape == (128, 128, 3) and crop.dtype == np.uint8
        bs = m([crop, np.zeros((128, 128, 3), np.uint8)])
        assert bs.shape == (2, 52) and not np.isnan(bs[0]).any() and np.isnan(bs[1]).all()
        smile = bs[0, group_indices("mouthSmile")].mean()
        measured = single_face_track.blendshapes[40, group_indices("mouthSmile")].mean()
        assert abs(smile - measured) < 0.2
    finally:
        m.close()


def test_short_loop_on_a_real_clip(single_face_path, tmp_path):
    """Two frames, one correction, run by the planner once its model is fitted: the inner
    brows go up as the gain goes up, and the planner edits with the loop's gains."""
    from ned.analysis.cache import AnalysisConfig, cached_analysis

    info = probe(single_face_path)
    config = EditConfig.build(emotion="surprised")
    planner = make_planner(config, (info.width, info.height), info.fps, tmp_path)
    runs = []

    def hook(p):
        # the samples carry the manipulator's context within the rows at hand (not the
        # clip's first or last frames, whose translation would differ from the plan's)
        six = p.sample_frames(6)
        assert len(six) == 6 and six.min() >= p.near and six.max() < p._rows.hi - p.near
        frames = p.sample_frames(2)
        wanted = set(frames.tolist())
        images = {f.index: f.image for f in read_frames(single_face_path,
                                                         stop=int(frames[-1]) + 1)
                  if f.index in wanted}
        runs.append(C.calibrate(p, images, {"browInnerUp": 0.95}, {"mouthSmile": 0.2},
                                config, C.CalibrationConfig(frames=2, rounds=1)))
        return runs[-1]

    planner.calibrate = hook
    track = cached_analysis(single_face_path, AnalysisConfig(), tmp_path)
    next(iter(planner.plans(record_chunks(track))))
    (out,) = runs
    assert len(out.rounds) == 2 and out.seconds > 0
    first, second = out.rounds
    assert second["gains"]["browInnerUp"] > first["gains"]["browInnerUp"]
    assert second["levels"]["browInnerUp"] > first["levels"]["browInnerUp"]
    best = max(out.rounds, key=lambda h: C._score(h["levels"], out.targets, out.ceilings))
    assert out.gains == best["gains"] and planner.calibration is out
    assert planner.basis.gains["browInnerUp"] == pytest.approx(out.gains["browInnerUp"])


def test_the_loop_renders_the_edits_own_cues():
    """The loop re-measures what the edit draws: its appearance cues (the analyser reads
    the parted teeth and the sclera), none when the edit has none or the neural renderer
    draws its own appearance; a large face at the renderer's working scale."""
    from ned.editing.renderers import WarpRenderer

    def cues(**options):
        app = C.calibration_renderer(EditConfig.build(**options)).appearance
        return app.creases, app.interior, app.eyes

    assert cues(emotion="fear") == (True, True, True)
    assert cues(emotion="happy") == (True, False, True)
    assert cues(emotion="fear", cues=("eyes",)) == (False, False, True)
    assert cues(emotion="fear", cues=()) == (False, False, False)
    assert cues(emotion="fear", renderer="actor.safetensors") == (False, False, False)
    renderer = C.calibration_renderer(EditConfig.build(emotion="fear"))
    assert isinstance(renderer, WarpRenderer) and renderer.occlusion is None
    assert renderer.large_iod == WarpRenderer.large_iod


def test_cached_gains_are_per_cue_set(single_face_path):
    """Gains found with one set of cues are not reused by an edit drawing another."""
    from ned.editing.run import ClipCalibration

    def key(**options):
        config = EditConfig.build(emotion="fear", **options)
        return ClipCalibration(single_face_path, config, ({}, {}, {}), Path("m"))._key()

    assert key() == key(cues=("creases", "interior", "eyes"))
    assert key() != key(cues=("creases", "eyes")) != key(cues=())


def test_geometric_goals_are_the_posed_fields_as_redetected():
    """A group the analyser cannot read is aimed at what its posed field does (the
    docs' field table: the frown's corners 0.12 IOD at mouthFrown 0.6, the glare's lids
    0.065 at eyeWide 0.5), as much of it as the analyser re-detects, never under its
    floor."""
    assert C.posed_change("mouthFrown", 0.6) == pytest.approx(0.12, abs=0.005)
    assert C.posed_change("eyeWide", 0.5) == pytest.approx(0.065, abs=0.005)
    assert C.posed_change("eyeWide", 0.25) == pytest.approx(0.5 * C.posed_change("eyeWide", 0.5))
    sad = C.geometric_goals("sad")
    assert set(sad) == {"mouthFrown"}
    assert sad["mouthFrown"] == pytest.approx(C.REDETECTED * C.posed_change("mouthFrown", 0.6))
    for emotion in TARGETS:
        for g, goal in C.geometric_goals(emotion).items():
            assert goal >= GEOMETRIC_FLOORS[g][1] + C.GEOMETRIC_MARGIN
    # disgust's frown (browDown 0.4) is aimed lower than angry's (0.7)
    assert C.geometric_goals("disgusted")["browDown"] < C.geometric_goals("angry")["browDown"]
    assert C.geometric_goals("happy") == {}


def test_geometric_step_aims_at_the_goal():
    cal = C.CalibrationConfig()
    gains = dict(START_GAINS)
    out = C._geometric_step(gains, {"mouthFrown": 0.05}, {"mouthFrown": 0.10}, cal)
    assert out["mouthFrown"] == pytest.approx(cal.max_step)        # far under: one step
    out = C._geometric_step(gains, {"mouthFrown": 0.12}, {"mouthFrown": 0.10}, cal)
    assert out["mouthFrown"] == START_GAINS["mouthFrown"]           # reached: kept
    high = {**gains, "eyeWide": MAX_GAINS["eyeWide"]}
    out = C._geometric_step(high, {"eyeWide": 0.0}, {"eyeWide": 0.05}, cal)
    assert out["eyeWide"] == MAX_GAINS["eyeWide"]                   # capped
