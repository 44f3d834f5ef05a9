"""End-to-end ``ned edit`` on the sample clips: format kept, only the face changed,
speech kept, and bad inputs refused cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import av
import numpy as np
import pytest

import ned
from ned.analysis import analyze
from ned.blendshapes import EMOTIONS, index_of
from ned.cli import main
from ned.editing.config import PassReason
from ned.editing.guards import range_weights
from ned.io import probe, read_frames
from ned.mask import face_box
from ned.topology import inner_lip_gap

JAW = index_of("jawOpen")


def _audio(path):
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return []
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]


@pytest.fixture(scope="session")
def edits(tmp_path_factory, single_face_path, carphone_path):
    """Every emotion on both sample clips: {(clip, emotion): output path}."""
    out = {}
    d = tmp_path_factory.mktemp("edits")
    for clip in (single_face_path, carphone_path):
        for emo in EMOTIONS:
            path = d / f"{clip.stem}_{emo}.mp4"
            ned.edit(clip, path, emotion=emo)
            out[(clip.stem, emo)] = path
    return out


@pytest.fixture(scope="session")
def tracks(single_face_track, carphone_track):
    return {"single_face": single_face_track, "carphone": carphone_track}


@pytest.fixture(scope="session")
def plain(tmp_path_factory, single_face_path, carphone_path):
    """Plain re-encodes of the sample clips (same encoder and crf, no edit): the codec's
    floor."""
    from ned.editing.config import source_crf
    from ned.io import VideoWriter

    out = {}
    for clip in (single_face_path, carphone_path):
        path = tmp_path_factory.mktemp("plain") / clip.name
        crf = source_crf(probe(clip).bits_per_pixel)
        with VideoWriter(path, like=clip, audio_from=clip, crf=crf) as w:
            for f in read_frames(clip, yuv=True):
                w.write(f.image, f.pts, source_yuv=f.yuv)
        out[clip.stem] = path
    return out


def _outside_diff(a_path, b_path, landmarks):
    diffs = []
    for fa, fb in zip(read_frames(a_path), read_frames(b_path)):
        x0, y0, x1, y1 = (int(round(v)) for v in face_box(landmarks[fa.index], 1.2))
        outside = np.ones(fa.image.shape[:2], bool)
        outside[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = False
        diffs.append(np.abs(fa.image.astype(int) - fb.image.astype(int))[outside].mean())
    return float(np.mean(diffs))


@pytest.mark.parametrize("clip", ["single_face", "carphone"])
@pytest.mark.slow
def test_format_audio_and_background_kept(edits, tracks, plain, data_dir, clip):
    """Same frames, rate, size, duration and audio packets; outside the face box (1.2x the
    landmarks' box) the edit adds at most 1 grey level to what the codec itself changes
    (a plain re-encode of the source at the same quality)."""
    src = data_dir / f"{clip}.mp4"
    a = probe(src)
    lm = tracks[clip].landmarks
    floor = _outside_diff(src, plain[clip], lm)
    for emo in EMOTIONS:
        b = probe(edits[(clip, emo)])
        assert (b.frame_count, b.width, b.height) == (a.frame_count, a.width, a.height)
        assert b.fps == pytest.approx(a.fps) and b.duration == pytest.approx(a.duration, 1e-3)
        assert _audio(edits[(clip, emo)]) == _audio(src)
        vs_plain = _outside_diff(plain[clip], edits[(clip, emo)], lm)
        vs_src = _outside_diff(src, edits[(clip, emo)], lm)
        print(f"{clip} {emo}: outside the face box, mean abs difference to a plain re-encode "
              f"{vs_plain:.2f}, to the source {vs_src:.2f} (plain re-encode to source {floor:.2f})")
        assert vs_src <= floor + 1.0


def _face_change(src, out, track):
    vals = []
    for f_in, f_out in zip(read_frames(src), read_frames(out)):
        x0, y0, x1, y1 = (int(round(v)) for v in face_box(track.landmarks[f_in.index], 0.8))
        a = f_in.image[max(y0, 0):y1, max(x0, 0):x1].astype(int)
        b = f_out.image[max(y0, 0):y1, max(x0, 0):x1].astype(int)
        vals.append(np.abs(a - b).mean())
    return float(np.mean(vals))


@pytest.mark.parametrize("clip", ["single_face", "carphone"])
@pytest.mark.slow
def test_face_changes_for_every_target(edits, tracks, data_dir, clip):
    src = data_dir / f"{clip}.mp4"
    for emo in EMOTIONS:
        change = _face_change(src, edits[(clip, emo)], tracks[clip])
        print(f"{clip} {emo}: mean abs change inside the face {change:.2f}")
        if emo != "neutral":
            assert change > 1.5


@pytest.fixture(scope="session")
def remeasured(edits):
    return {k: analyze(p) for k, p in edits.items()}


#: (clip, emotion) pairs that miss a speech point today, with the measured figure and why
#: (docs/expressions.md, "Speech"). single_face's jaw hardly moves (the chin's height
#: varies by 0.011 IOD, under a pixel): the analyser's jawOpen there (std 0.019) follows
#: whatever else the edit changes around the mouth, while the lips' opening, which carries
#: his speech, keeps r >= 0.99. Its "syllables" are mostly the grin's onset (the opening
#: steps from 0.01 to 0.2 IOD at 0.6 s), a posture the closed-lips targets halve.
SPEECH_OFF = {
    ("single_face", "angry"): "jawOpen r 0.56 (a still jaw); syllable amplitude 0.68x "
                              "(pressed lips over the grin's onset)",
    ("single_face", "disgusted"): "jawOpen r 0.86 (a still jaw under a raised upper lip)",
    ("single_face", "sad"): "jawOpen r 0.76 (a still jaw)",
    ("carphone", "surprised"): "jawOpen r 0.899 (the analyser's inner lips partly on the "
                               "teeth the dropped jaw parts)",
}


@pytest.mark.parametrize("clip", ["single_face", "carphone"])
@pytest.mark.parametrize("emo", EMOTIONS)
@pytest.mark.slow
def test_speech_kept_on_output(remeasured, tracks, clip, emo, fps=30.0):
    """Re-measured on the output: the inner-lip opening correlates with the source's
    (>= 0.95, always), so does jawOpen (>= 0.9), and the syllables keep their amplitude
    (the opening's deviation from its 0.5 s moving average, within 15 %)."""
    from ned.metrics.expression import syllable_amplitude

    src, out = tracks[clip], remeasured[(clip, emo)]
    v = src.valid & out.valid
    gs, ge = inner_lip_gap(src.landmarks[v]), inner_lip_gap(out.landmarks[v])
    lip = np.corrcoef(gs, ge)[0, 1]
    jaw = np.corrcoef(src.blendshapes[v, JAW], out.blendshapes[v, JAW])[0, 1]
    ratio = syllable_amplitude(ge, src.fps) / syllable_amplitude(gs, src.fps)
    print(f"{clip} {emo}: lip r {lip:.3f}, jawOpen r {jaw:.3f}, syllable ratio {ratio:.2f}")
    assert lip >= 0.95
    kept = jaw >= 0.9 and 0.85 <= ratio <= 1.15
    if (clip, emo) in SPEECH_OFF:   # a known shortfall must still be one
        assert not kept, f"{clip} {emo} keeps its speech now: update SPEECH_OFF"
        pytest.xfail(SPEECH_OFF[(clip, emo)])
    assert kept


# options
def test_edit_weights_ramps():
    t = np.arange(0, 3, 0.1)
    w = range_weights(t, 1.0, 2.0, 0.3)
    assert w[t < 1.0].max() == 0 and w[(t > 1.35) & (t < 1.65)].min() == 1
    assert w[t > 2.0].max() == 0
    assert np.all(np.diff(w[(t >= 1.0) & (t <= 1.3)]) > 0)  # smooth rise
    np.testing.assert_array_equal(range_weights(t, None, None, 0.3), np.ones_like(t))


@pytest.mark.slow
def test_time_range_leaves_rest_untouched(single_face_path, tmp_path):
    out = tmp_path / "range.mp4"
    rep = ned.edit(single_face_path, out, emotion="sad", start=1.0, end=1.6)
    assert 0 < rep.edited < 30 and rep.passed[PassReason.OUTSIDE_RANGE] > 40
    change = [np.abs(a.image.astype(int) - b.image.astype(int)).mean()
              for a, b in zip(read_frames(single_face_path), read_frames(out))]
    times = np.arange(len(change)) / 30.0
    outside, inside = np.array(change)[times < 0.95], np.array(change)[
        (times > 1.35) & (times < 1.25 + 0.3)]
    print(f"range edit: mean change outside the range {outside.mean():.2f}, "
          f"inside {inside.mean():.2f}")
    assert outside.max() < 1.5  # codec only
    assert inside.mean() > outside.mean() + 0.2


@pytest.mark.slow
def test_lossless_output_background(carphone_path, carphone_track, tmp_path):
    """With --crf 0 (lossless) only the soft edge of the blend differs outside the face box."""
    out = tmp_path / "lossless.mp4"
    rc = main(["edit", str(carphone_path), "-o", str(out), "--emotion", "happy", "--crf", "0",
               "-q"])
    assert rc == 0
    diff = _outside_diff(carphone_path, out, carphone_track.landmarks)
    print(f"lossless: mean abs difference outside the face box {diff:.3f}")
    assert diff <= 1.0  # only the blend's soft edge reaches past the 1.2x box
    for a, b in zip(read_frames(carphone_path), read_frames(out)):  # the warp's box + 8 px
        x0, y0, x1, y1 = (int(round(v)) for v in face_box(carphone_track.landmarks[a.index],
                                                            1.7))
        far = np.ones(a.image.shape[:2], bool)
        far[max(y0 - 8, 0):max(y1 + 8, 0), max(x0 - 8, 0):max(x1 + 8, 0)] = False
        assert np.array_equal(a.image[far], b.image[far])


@pytest.mark.slow
def test_preview_and_determinism(single_face_path, tmp_path):
    o1, o2, pv = tmp_path / "a.mp4", tmp_path / "b.mp4", tmp_path / "p.mp4"
    # lossless (crf 0): x264's bitstream may differ between runs on a loaded machine, the
    # frames it is given may not
    ned.edit(single_face_path, o1, emotion="angry", seed=3, preview=pv, crf=0)
    ned.edit(single_face_path, o2, emotion="angry", seed=3, crf=0)
    assert probe(pv).width == 1280
    f1 = [f.image for f in read_frames(o1)]
    f2 = [f.image for f in read_frames(o2)]
    assert all(np.array_equal(a, b) for a, b in zip(f1, f2))


@pytest.mark.slow
def test_first_and_cached_edits_are_identical(carphone_path, tmp_path, monkeypatch):
    """The first edit renders while a background process analyses (and fills the cache);
    the second reads the cache: both give the same clip, bit for bit."""
    monkeypatch.setenv("NED_CACHE_DIR", str(tmp_path / "cache"))
    o1, o2, o3 = tmp_path / "a.mp4", tmp_path / "b.mp4", tmp_path / "c.mp4"
    r1 = ned.edit(carphone_path, o1, emotion="sad", crf=0)  # lossless: see above
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    r2 = ned.edit(carphone_path, o2, emotion="sad", crf=0)
    ned.edit(carphone_path, o3, emotion="sad", use_cache=False, crf=0)
    assert r1.edited == r2.edited == 120
    f1, f2, f3 = ([f.image for f in read_frames(o)] for o in (o1, o2, o3))
    assert all(np.array_equal(a, b) and np.array_equal(a, c) for a, b, c in zip(f1, f2, f3))
    assert any(not np.array_equal(a, s.image) for a, s in zip(f1, read_frames(carphone_path)))


def test_no_face_clip_is_copied(no_face_path, tmp_path):
    out = tmp_path / "nf.mp4"
    rep = ned.edit(no_face_path, out, emotion="happy")
    assert rep.edited == 0 and rep.passed[PassReason.NO_FACE] == rep.frames
    src = next(read_frames(no_face_path, start=10, stop=11)).image.astype(int)
    got = next(read_frames(out, start=10, stop=11)).image.astype(int)
    assert np.abs(src - got).mean() < 2.0


# bad inputs
@pytest.mark.parametrize("args,message", [
    (["--emotion", "bored"], "unknown emotion"),
    (["--emotion", "happy", "--intensity", "-0.5"], "outside"),
    (["--emotion", "happy", "--intensity", "2"], "outside"),
    (["--emotion", "happy", "--start", "2", "--end", "1"], "after"),
    (["--emotion", "happy", "--gain", "5"], "gain"),
    (["--emotion", "happy", "--crf", "60"], "crf"),
])
def test_bad_options(single_face_path, tmp_path, capsys, args, message):
    out = tmp_path / "o.mp4"
    rc = main(["edit", str(single_face_path), "-o", str(out), "-q", *args])
    err = capsys.readouterr().err
    assert rc == 1 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_bad_paths(single_face_path, no_face_path, tmp_path, capsys):
    cases = [
        (["-o", str(single_face_path), "--emotion", "happy"], "overwrite the input"),
        (["-o", str(tmp_path / "missing" / "o.mp4"), "--emotion", "happy"], "does not exist"),
        (["-o", str(tmp_path / "o.mp4"), "--reference", str(no_face_path)], "no frame with a face"),
        (["-o", str(tmp_path / "o.mp4"), "--reference", str(tmp_path / "x.mp4")], "no such"),
    ]
    for args, message in cases:
        rc = main(["edit", str(single_face_path), "-q", *args])
        err = capsys.readouterr().err
        assert rc == 1 and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_unwritable_folder(single_face_path, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user that can write anywhere")
        rc = main(["edit", str(single_face_path), "-o", str(ro / "o.mp4"), "--emotion", "sad"])
        assert rc == 1 and "not writable" in capsys.readouterr().err
    finally:
        ro.chmod(0o700)


@pytest.mark.slow
def test_sigint_leaves_no_output(tmp_path, single_face_path):
    """SIGINT mid-run: exit 130, one message, no output file (a long clip keeps it busy)."""
    from ned.io import VideoWriter

    long = tmp_path / "long.mp4"
    frames = [f.image for f in read_frames(single_face_path)]
    with VideoWriter(long, fps=30, size=(640, 360), preset="ultrafast") as w:
        for i in range(600):
            w.write(frames[i % len(frames)])
    out = tmp_path / "out.mp4"
    env = {**os.environ, "NED_CACHE_DIR": str(tmp_path / "cache")}
    p = subprocess.Popen([sys.executable, "-m", "ned.cli", "edit", str(long), "-o", str(out),
                          "--emotion", "happy", "-q"], stderr=subprocess.PIPE, text=True,
                         env=env)
    time.sleep(6)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not out.exists()
    assert [x.name for x in tmp_path.iterdir() if x.name.startswith(".out")] == []


#: Groups of the target table an edit does not show today, per (clip, emotion), with the
#: measured figure (benchmarks/quality.py; docs/expressions.md explains each).
NOT_SHOWN = {
    ("single_face", "angry"): "mouthPress 0.18 of 0.4, lips 0.017 IOD thinner (floor 0.03); "
                              "lids 0.022 IOD higher (floor 0.03)",
    ("single_face", "disgusted"): "mouthUpperUp 0.34 of 0.6 (his grin's raised lip removed)",
    ("single_face", "fear"): "mouthStretch 0.29 of 0.4",
    ("carphone", "angry"): "eyeSquint 0.16 of 0.4, mouthPress 0.08, lids not raised at 22 px "
                           "IOD",
    ("carphone", "disgusted"): "eyeSquint 0.15 of 0.3, mouthUpperUp 0.23 of 0.6",
    ("carphone", "fear"): "eyeWide: lids 0.011 IOD higher; mouthStretch 0.21 of 0.4",
    ("carphone", "happy"): "eyeSquint 0.20 of 0.4",
    ("carphone", "surprised"): "eyeWide: lids 0.006 IOD higher (0.1 px at 22 px IOD)",
}


@pytest.mark.parametrize("clip", ["single_face", "carphone"])
@pytest.mark.parametrize("emo", EMOTIONS)
@pytest.mark.slow
def test_output_shows_the_target_table(remeasured, tracks, clip, emo):
    """Re-measured on the OUTPUT video, every group the target names reaches 75 % of its
    level (or its geometric floor, for what the analyser cannot see), and no other
    emotion's group is left over its ceiling (a grin removed)."""
    from ned.metrics.expression import expression_scores

    scores = expression_scores(tracks[clip], remeasured[(clip, emo)], emo)
    shown = {g: (s.edited, s.target, s.reached, s.within_ceiling)
             for g, s in scores.groups.items() if s.targeted or s.ceiling is not None}
    print(f"{clip} -> {emo}: {shown}")
    for g, s in scores.groups.items():
        if s.ceiling is not None:
            assert s.within_ceiling, f"{g} {s.edited:.2f} over its ceiling {s.ceiling}"
    if (clip, emo) in NOT_SHOWN:   # a known shortfall must still be one
        assert not scores.passed, f"{clip} -> {emo} shows its table now: update NOT_SHOWN"
        pytest.xfail(NOT_SHOWN[(clip, emo)])
    assert scores.passed


@pytest.mark.slow
def test_grin_removed(remeasured, tracks):
    """single_face grins (mouthSmile about 0.6); angry, sad and neutral remove it: at most
    0.2 re-measured on average."""
    smile = [index_of("mouthSmileLeft"), index_of("mouthSmileRight")]
    assert tracks["single_face"].blendshapes[:, smile].mean() > 0.5
    for emo in ("angry", "sad", "neutral"):
        out = remeasured[("single_face", emo)]
        level = out.blendshapes[out.valid][:, smile].mean()
        print(f"single_face -> {emo}: mouthSmile {level:.2f}")
        assert level <= 0.2


@pytest.mark.slow
def test_reference_mode_takes_the_reference_style(carphone_path, single_face_path, tracks,
                                                 tmp_path):
    """Edited towards single_face.mp4 (mostly a broad smile), carphone.mp4 smiles at close
    to the reference's measured level (the calibration chases it)."""
    out = tmp_path / "ref.mp4"
    rep = ned.edit(carphone_path, out, reference=single_face_path)
    assert rep.edited == rep.frames == 120
    smile = [index_of("mouthSmileLeft"), index_of("mouthSmileRight")]
    ref = tracks["single_face"].blendshapes[tracks["single_face"].valid][:, smile].mean()
    src = tracks["carphone"].blendshapes[:, smile].mean()
    got = analyze(out).blendshapes[:, smile].mean()
    print(f"reference edit: smile {src:.2f} -> {got:.2f} (reference {ref:.2f}); "
          f"{rep.calibration.get('mouthSmile')}")
    assert got >= 0.75 * ref and "mouthSmile" in rep.calibration


@pytest.mark.slow
def test_face_appearing_late_and_leaving(single_face_path, tmp_path, monkeypatch):
    """Frames without a face before and after the face (live analysis, then cached) are
    copied; the face frames between are edited; both runs give the same clip."""
    from ned.io import VideoWriter

    monkeypatch.setenv("NED_CACHE_DIR", str(tmp_path / "cache"))
    clip = tmp_path / "late.mp4"
    frames = [f.image for f in read_frames(single_face_path)]
    blank = np.full_like(frames[0], 40)
    with VideoWriter(clip, fps=25, size=(640, 360), crf=12) as w:
        for img in [blank] * 15 + frames[:50] + [blank] * 10:
            w.write(img)
    o1, o2 = tmp_path / "a.mp4", tmp_path / "b.mp4"
    r1 = ned.edit(clip, o1, emotion="sad", crf=0)  # lossless: see test_preview_and_determinism
    r2 = ned.edit(clip, o2, emotion="sad", crf=0)
    assert r1.passed[PassReason.NO_FACE] == r2.passed[PassReason.NO_FACE] == 25
    assert r1.edited == 50
    f1, f2 = [f.image for f in read_frames(o1)], [f.image for f in read_frames(o2)]
    assert all(np.array_equal(a, b) for a, b in zip(f1, f2)) and len(f1) == 75
