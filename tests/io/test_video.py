import av
import numpy as np
import pytest

from ned.errors import NedError
from ned.io import VideoWriter, probe, read_frames
from tests.conftest import make_video


def _audio_packets(path):
    with av.open(str(path)) as c:
        return [(p.pts, p.dts, bytes(p)) for p in c.demux(c.streams.audio[0]) if p.size]


# smoke / shape
def test_probe_sample(single_face_path):
    info = probe(single_face_path)
    assert (info.width, info.height, info.frame_count) == (640, 360, 72)
    assert info.fps == pytest.approx(30.0)
    assert info.has_audio and info.rotation == 0
    assert info.duration == pytest.approx(2.4, abs=1e-3)


def test_read_frames_shapes_and_times(carphone_path):
    frames = list(read_frames(carphone_path))
    assert len(frames) == 120
    assert all(f.image.shape == (144, 176, 3) and f.image.dtype == np.uint8 for f in frames)
    times = np.array([f.time for f in frames])
    assert np.all(np.diff(times) > 0)
    assert np.diff(times).mean() == pytest.approx(1001 / 30000, rel=1e-3)


def test_read_frames_range(carphone_path):
    frames = list(read_frames(carphone_path, start=5, stop=8))
    assert [f.index for f in frames] == [5, 6, 7]


# correctness: round trip
def test_round_trip_keeps_format_and_audio(single_face_path, tmp_path):
    out = tmp_path / "rt.mp4"
    src = list(read_frames(single_face_path))
    with VideoWriter(out, like=single_face_path, audio_from=single_face_path) as w:
        for f in src:
            w.write(f.image, f.pts)
    a, b = probe(single_face_path), probe(out)
    assert (b.frame_count, b.width, b.height) == (a.frame_count, a.width, a.height)
    assert b.fps == pytest.approx(a.fps)
    assert b.duration == pytest.approx(a.duration, abs=1e-3)
    assert b.time_base == a.time_base
    assert _audio_packets(out) == _audio_packets(single_face_path)
    decoded = list(read_frames(out))
    assert [f.pts for f in decoded] == [f.pts for f in src]
    err = np.abs(decoded[10].image.astype(int) - src[10].image.astype(int)).mean()
    assert err < 2.0  # crf 16 re-encode


def test_variable_frame_rate_timestamps_kept(tmp_path):
    src = tmp_path / "vfr.mp4"
    pts = [0, 512, 1024, 2560, 3072, 5120]  # irregular gaps, time base 1/15360
    with av.open(str(src), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        s.codec_context.time_base = s.time_base = __import__("fractions").Fraction(1, 15360)
        for i, p in enumerate(pts):
            fr = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 20 * i, np.uint8), "rgb24")
            fr.pts = p
            for pk in s.encode(fr):
                c.mux(pk)
        for pk in s.encode(None):
            c.mux(pk)
    times_in = [f.time for f in read_frames(src)]
    out = tmp_path / "out.mp4"
    with VideoWriter(out, like=src) as w:
        for f in read_frames(src):
            w.write(f.image, f.pts)
    times_out = [f.time for f in read_frames(out)]
    assert times_out == pytest.approx(times_in, abs=1e-6)


def test_rotation_is_applied_and_kept(tiny_video, tmp_path):
    rot = tmp_path / "rot.mp4"
    with av.open(str(tiny_video)) as c_in, av.open(str(rot), "w") as c_out:
        s_in = c_in.streams.video[0]
        s_out = c_out.add_stream_from_template(s_in)
        s_out.set_display_rotation(90)
        for p in c_in.demux(s_in):
            if p.size:
                p.stream = s_out
                c_out.mux(p)
    info = probe(rot)
    assert info.rotation == 90 and (info.width, info.height) == (48, 64)
    frames = list(read_frames(rot))
    assert frames[0].image.shape == (64, 48, 3)
    out = tmp_path / "rot_out.mp4"
    with VideoWriter(out, like=rot) as w:
        for f in frames:
            w.write(f.image, f.pts)
    assert probe(out).rotation == 90
    back = next(read_frames(out)).image
    assert np.abs(back.astype(int) - frames[0].image.astype(int)).mean() < 3


def test_writer_without_source_and_odd_size(tmp_path):
    out = tmp_path / "odd.mp4"
    with VideoWriter(out, fps=24, size=(33, 17)) as w:
        for i in range(5):
            w.write(np.full((17, 33, 3), 40 * i, np.uint8))
    info = probe(out)
    assert (info.width, info.height, info.frame_count) == (33, 17, 5)
    assert info.fps == pytest.approx(24)


# errors
def test_writer_failure_leaves_no_file(tmp_path):
    out = tmp_path / "fail.mp4"
    with pytest.raises(RuntimeError), VideoWriter(out, fps=25, size=(32, 32)) as w:
        w.write(np.zeros((32, 32, 3), np.uint8))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_writer_rejects_wrong_frame(tmp_path):
    with pytest.raises(NedError, match="frame must be"), \
            VideoWriter(tmp_path / "x.mp4", fps=25, size=(32, 32)) as w:
        w.write(np.zeros((16, 32, 3), np.uint8))
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize("make", ["missing", "text", "folder"])
def test_probe_bad_inputs(tmp_path, make):
    p = tmp_path / "bad.mp4"
    if make == "text":
        p.write_text("this is not a video\n")
    elif make == "folder":
        p.mkdir()
    with pytest.raises(NedError):
        probe(p)


def test_writer_unwritable_folder(tmp_path):
    with pytest.raises(NedError, match="does not exist"):
        VideoWriter(tmp_path / "nope" / "x.mp4", fps=25, size=(32, 32))


def test_make_video_helper_roundtrip(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (3, 16, 16, 3), np.uint8)
    p = make_video(tmp_path / "r.mp4", frames)
    assert probe(p).frame_count == 3


def test_prefetch_keeps_order_errors_and_early_exit():
    from ned.io import prefetch

    assert [f for f in prefetch(iter(range(50)), depth=3)] == list(range(50))

    def broken():
        yield 1
        raise NedError("decode failed")

    with pytest.raises(NedError, match="decode failed"):
        list(prefetch(broken()))
    it = prefetch(iter(range(1000)), depth=2)
    assert next(it) == 0
    it.close()  # the background thread stops; nothing hangs


def test_write_behind_equals_direct_writes_and_reports_errors(tmp_path):
    from ned.io import WriteBehind

    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (48, 64, 3), np.uint8) for _ in range(12)]
    direct, behind = tmp_path / "a.mp4", tmp_path / "b.mp4"
    with VideoWriter(direct, fps=25, size=(64, 48), crf=0) as w:
        for f in frames:
            w.write(f)
    wb = WriteBehind(VideoWriter(behind, fps=25, size=(64, 48), crf=0), depth=2)
    for f in frames:
        wb.write(f)
    wb.close()
    a, b = list(read_frames(direct)), list(read_frames(behind))
    assert len(a) == len(b) == 12
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b))

    bad = WriteBehind(VideoWriter(tmp_path / "c.mp4", fps=25, size=(64, 48)))
    bad.write(frames[0][:10])  # wrong size: fails on the background thread ...
    with pytest.raises(NedError, match="frame must be"):
        for f in frames:   # ... and is raised here
            bad.write(f)
        bad.close()
    assert not (tmp_path / "c.mp4").exists()

    gone = WriteBehind(VideoWriter(tmp_path / "d.mp4", fps=25, size=(64, 48)))
    gone.write(frames[0])
    gone.abort()
    assert not (tmp_path / "d.mp4").exists()
