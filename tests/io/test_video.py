import dataclasses
import warnings

import av
import numpy as np
import pytest

from ned.errors import NedError, NedWarning
from ned.io import VideoWriter, probe, read_frames
from tests import media
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


def test_probe_bits_per_pixel(single_face_path, carphone_path, tmp_path):
    """The video stream's bytes, counted independently of probe, over its stored pixels:
    single_face is web video (0.04 bits a pixel), carphone near-lossless (1.55); a coarser
    encode of the same frames spends fewer."""
    import av

    for path, want in ((single_face_path, 0.043), (carphone_path, 1.55)):
        with av.open(str(path)) as c:
            total = sum(p.size for p in c.demux(c.streams.video[0]))
        info = probe(path)
        assert info.video_bytes == total
        assert info.bits_per_pixel == pytest.approx(
            8 * total / (info.coded_width * info.coded_height * info.frame_count))
        assert info.bits_per_pixel == pytest.approx(want, abs=0.02)
    frames = [f for f in read_frames(carphone_path, stop=30)]
    got = {}
    for crf in (8, 30):
        out = tmp_path / f"c{crf}.mp4"
        with VideoWriter(out, like=carphone_path, crf=crf) as w:
            for f in frames:
                w.write(f.image, f.pts)
        got[crf] = probe(out).bits_per_pixel
    assert got[30] < 0.5 * got[8]
    assert dataclasses.replace(probe(carphone_path), video_bytes=0).bits_per_pixel is None


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


def test_writer_lookahead_and_b_pyramid_reach_x264(tmp_path):
    """The options x264 was given, as it writes them into the stream (its SEI)."""
    said = {}
    for name, kw in (("default", {}), ("large", {"lookahead": 5, "b_pyramid": False})):
        out = tmp_path / f"{name}.mp4"
        with VideoWriter(out, fps=25, size=(64, 48), **kw) as w:
            for i in range(12):
                w.write(np.full((48, 64, 3), 20 * i, np.uint8))
        said[name] = out.read_bytes()
    assert b"b_pyramid=2" in said["default"] and b"rc_lookahead=10" in said["default"]
    assert b"b_pyramid=0" in said["large"] and b"rc_lookahead=5" in said["large"]


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


# -- odd and damaged media (issue 17) ---------------------------------------------------------
def _frames_equal_outside(a, b, box):
    d = np.abs(a.astype(int) - b.astype(int))
    if box is not None:
        x0, y0, x1, y1 = box
        d[max(0, y0 - 4):y1 + 4, max(0, x0 - 4):x1 + 4] = 0
    return int(d.max())


def test_raw_stream_gets_timestamps_from_its_rate(tmp_path):
    """A raw H.264 stream carries no timestamps: frames are numbered at the frame rate, so
    a re-encode keeps the clip's duration (it was 0.04 s: pts 0..71 in 1/1200000)."""
    raw = media.raw_h264(tmp_path / "in.h264", media.gradient_frames(20), fps=25)
    info = probe(raw)
    assert info.synthetic_timestamps and info.frame_count == 20
    assert info.duration == pytest.approx(0.8) and info.fps == pytest.approx(25)
    frames = list(read_frames(raw))
    assert [f.time for f in frames] == pytest.approx([i / 25 for i in range(20)])
    out = tmp_path / "out.mp4"
    with VideoWriter(out, like=raw) as w:
        for f in frames:
            w.write(f.image, f.pts)
    back = probe(out)
    assert back.frame_count == 20 and back.duration == pytest.approx(0.8, abs=1e-3)


def test_damaged_middle_skips_bad_packets_and_says_so(tmp_path):
    """20 KB of garbage in the middle: the bad packets are skipped (not the whole rest of
    the clip), a warning counts them, and every reader gets the same frames."""
    src = media.encode(tmp_path / "src.mp4", media.face_frames(72), fps=30)
    bad = media.damage_middle(tmp_path / "bad.mp4", src)
    with pytest.warns(NedWarning, match=r"skipped \d+ damaged video packet"):
        frames = list(read_frames(bad))
    assert 36 < len(frames) < 72
    assert frames[-1].time > 2.0  # the end of the clip is there
    times = [f.time for f in frames]
    assert all(b > a for a, b in zip(times, times[1:]))
    with pytest.warns(NedWarning):
        again = [f.pts for f in read_frames(bad)]
    assert again == [f.pts for f in frames]


def test_times_count_from_the_first_frame(tmp_path):
    """A clip whose first frame is at 5.0 s: Frame.time starts at 0 (as players show it);
    the stream's own pts are kept for the writer."""
    late = media.encode(tmp_path / "late.mp4", media.gradient_frames(10), fps=25,
                        pts_offset=5.0)
    frames = list(read_frames(late))
    assert frames[0].time == 0.0 and frames[-1].time == pytest.approx(9 / 25)
    assert frames[0].pts * probe(late).time_base == pytest.approx(5.0)
    assert probe(late).duration == pytest.approx(0.4)


def test_avi_output_has_no_reordered_timestamps(tmp_path):
    """H.264 B-frames in AVI came back 1,3,2,4,6,5: AVI is written without B-frames."""
    src = media.encode(tmp_path / "src.mp4", media.gradient_frames(20), fps=25)
    out = tmp_path / "out.avi"
    with VideoWriter(out, like=src) as w:
        for f in read_frames(src):
            w.write(f.image, f.pts)
    pts = media.decoded_pts(out)
    assert len(pts) == 20 and all(b > a for a, b in zip(pts, pts[1:]))
    assert probe(out).duration == pytest.approx(0.8, abs=1e-3)


def test_webm_output_is_vp9_with_opus_audio(tmp_path):
    src = media.encode(tmp_path / "src.mp4", media.gradient_frames(12), fps=25, audio=1)
    out = tmp_path / "out.webm"
    with pytest.warns(NedWarning, match="re-encoded as opus"), \
            VideoWriter(out, like=src, audio_from=src) as w:
        for f in read_frames(src):
            w.write(f.image, f.pts)
    info = probe(out)
    assert (info.codec, info.frame_count, info.width, info.height) == ("vp9", 12, 64, 48)
    assert [c for c, _ in media.audio_streams(out)] == ["opus"]


@pytest.mark.parametrize("name", ["out.gif", "out.webp", "out", "out.txt"])
def test_unknown_containers_are_refused_before_writing(tmp_path, name):
    with pytest.raises(NedError, match=r"must be a \.mp4 .* file"):
        VideoWriter(tmp_path / name, fps=25, size=(32, 32))
    assert list(tmp_path.iterdir()) == []


def test_folder_as_output_is_refused(tmp_path):
    (tmp_path / "x.mp4").mkdir()
    with pytest.raises(NedError, match="is a folder"):
        VideoWriter(tmp_path / "x.mp4", fps=25, size=(32, 32))


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_clip_is_bit_exact_outside_the_edit_at_crf_0(tmp_path, rotation):
    """The source's own planes are written back for a rotated clip too (they were
    re-converted from RGB: up to 10 grey levels on frames passed through)."""
    src = media.encode(tmp_path / "rot.mp4", media.face_frames(6, (128, 72)), fps=30,
                       rotation=rotation)
    frames = list(read_frames(src, yuv=True))
    assert frames[0].yuv is not None and frames[0].image.shape[:2] == (
        (128, 72) if rotation in (90, 270) else (72, 128))
    out = tmp_path / "out.mp4"
    box = (10, 12, 30, 40)
    with VideoWriter(out, like=src, crf=0) as w:
        for f in frames:
            img = f.image.copy()
            changed = None
            if f.index % 2:  # odd frames: a white box edited in
                img[box[1]:box[3], box[0]:box[2]] = 255
                changed = box
            w.write(img, f.pts, source_yuv=f.yuv, changed=changed)
    assert probe(out).rotation == rotation
    for a, b in zip(frames, read_frames(out)):
        edited = a.index % 2
        assert _frames_equal_outside(a.image, b.image, box if edited else None) == 0
        if edited:
            assert b.image[25, 20].min() > 240


def test_every_audio_stream_is_copied(tmp_path):
    src = media.encode(tmp_path / "two.mp4", media.gradient_frames(25), fps=25, audio=2)
    assert len(media.audio_streams(src)) == 2 and probe(src).audio_streams == 2
    out = tmp_path / "out.mkv"
    with VideoWriter(out, like=src, audio_from=src) as w:
        for f in read_frames(src):
            w.write(f.image, f.pts)
    assert media.audio_streams(out) == media.audio_streams(src)


def test_ten_bit_input_stays_ten_bit_and_exact_outside_the_edit(tmp_path):
    src = media.encode(tmp_path / "ten.mp4", media.gradient_frames(6, 64, 48), fps=25,
                       pix_fmt="yuv420p10le")
    assert probe(src).pix_fmt == "yuv420p10le"
    frames = list(read_frames(src, yuv=True))
    assert frames[0].yuv.dtype == np.uint16
    out = tmp_path / "out.mp4"
    box = (8, 8, 24, 24)
    with VideoWriter(out, like=src, crf=0) as w:
        for f in frames:
            img = f.image.copy()
            img[8:24, 8:24] = 0
            w.write(img, f.pts, source_yuv=f.yuv, changed=box)
    assert media.stream_facts(out)[1:] == ("yuv420p10le", 10)
    for a, b in zip(frames, read_frames(out, yuv=True)):
        ya, yb = a.yuv[:48].astype(int), b.yuv[:48].astype(int)
        ya[8:24, 8:24] = yb[8:24, 8:24] = 0
        assert np.array_equal(ya, yb)  # luma outside the box: every 10-bit level kept


def test_odd_size_420_keeps_its_size_with_a_warning(tmp_path):
    """H.264 4:2:0 cannot have an odd size: the output keeps the size as 4:4:4 and says
    so (it came out 4:4:4 without a word)."""
    src = media.encode(tmp_path / "odd.mkv", media.gradient_frames(4, 33, 17), fps=25,
                       codec="ffv1")
    assert probe(src).pix_fmt == "yuv420p"
    out = tmp_path / "out.mp4"
    with pytest.warns(NedWarning, match="4:2:0 needs an even size"), \
            VideoWriter(out, like=src) as w:
        for f in read_frames(src):
            w.write(f.image, f.pts)
    info = probe(out)
    assert (info.width, info.height, info.frame_count, info.pix_fmt) == (33, 17, 4, "yuv444p")


def test_output_format_keeps_layout_and_depth():
    from ned.io.video import output_format

    assert output_format("libx264", "yuv420p", 64, 48) == ("yuv420p", None)
    assert output_format("libx264", "yuv420p10le", 64, 48) == ("yuv420p10le", None)
    assert output_format("libx264", "yuv422p", 64, 48) == ("yuv422p", None)
    assert output_format("libx264", "gray", 64, 48) == ("yuv420p", None)
    fmt, note = output_format("libvpx-vp9", "yuv420p10le", 64, 48)
    assert fmt == "yuv420p" and "8-bit" in note


def test_stale_temporary_output_of_a_dead_run_is_removed(tmp_path):
    out = tmp_path / "o.mp4"
    dead = tmp_path / ".o.mp4.999999999.tmp.mp4"  # no such process
    dead.write_bytes(b"half a video")
    with VideoWriter(out, fps=25, size=(32, 32)) as w:
        w.write(np.zeros((32, 32, 3), np.uint8))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.mp4"]


def test_truncated_tail_is_read_up_to_the_cut_with_a_warning(tmp_path):
    """A Matroska file cut at two thirds still plays up to the cut; the reader says the
    stream is shorter than it declares (it ended silently)."""
    src = media.encode(tmp_path / "s.mkv", media.gradient_frames(60), fps=30)
    data = src.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.warns(NedWarning, match="looks truncated"):
        frames = list(read_frames(cut))
    assert 20 < len(frames) < 60
    with warnings.catch_warnings():
        warnings.simplefilter("error", NedWarning)
        assert len(list(read_frames(src))) == 60  # a whole file: no warning
        assert len(list(read_frames(src, stop=10))) == 10


def _grey_clip(tmp_path, size=(128, 96), n=6):
    y, x = np.mgrid[0:size[1], 0:size[0]]
    frames = [np.dstack([(x * 2 + 9 * i) % 256, (y * 3) % 256, (x + y) % 256]).astype(np.uint8)
              for i in range(n)]
    return make_video(tmp_path / "g.mp4", frames)


def test_planes_views_and_crops_match_the_rgb_frames(single_face_path):
    """The RGB of a crop of the planes, and a frame shrunk on its planes, are the decoder's
    RGB (to the rounding of two BT.601 conversions)."""
    import cv2

    from ned.io.video import planes_to_rgb

    clip = single_face_path
    full = list(read_frames(clip, yuv=True, stop=3))
    bare = list(read_frames(clip, yuv=True, rgb=False, threads=1, stop=3))
    small = [f.image for f in read_frames(clip, shrink=2, stop=3)]
    assert all(f.image is None and f.yuv is not None for f in bare)
    for f, b, s in zip(full, bare, small):
        assert np.array_equal(f.yuv, b.yuv)
        crop = planes_to_rgb(b.yuv, (200, 40, 400, 300))
        assert crop.shape == (260, 200, 3)
        d = np.abs(crop.astype(int) - f.image[40:300, 200:400])
        assert d.max() <= 6 and d.mean() < 1.5  # OpenCV and swscale round BT.601 apart
        want = cv2.resize(f.image, (320, 180), interpolation=cv2.INTER_AREA).astype(int)
        assert s.shape == (180, 320, 3) and np.abs(s.astype(int) - want).mean() < 1.5
    with pytest.raises(NedError):
        planes_to_rgb(bare[0].yuv, (1, 8, 74, 60))
    with pytest.raises(NedError):
        next(read_frames(clip, shrink=0))


def test_writer_consumes_planes_handed_over(tmp_path):
    """With ``consume`` the changed box is written into the caller's planes (no copy): the
    same lossless output as without, whose caller's planes stay as they were."""
    clip = _grey_clip(tmp_path)
    outs = {}
    for consume in (False, True):
        frames = list(read_frames(clip, yuv=True))
        before = [f.yuv.copy() for f in frames]
        out = tmp_path / f"{consume}.mp4"
        with VideoWriter(out, like=clip, crf=0) as w:
            for f in frames:
                img = f.image.copy()
                img[20:40, 30:50] = 255 - img[20:40, 30:50]
                if f.index % 2:
                    w.write(img, f.pts, source_yuv=f.yuv, changed=(30, 20, 50, 40),
                            consume=consume)
                else:
                    w.write(img[16:44, 28:52], f.pts, source_yuv=f.yuv, changed=(30, 20, 50, 40),
                            origin=(28, 16), consume=consume)
        outs[consume] = [g.image for g in read_frames(out)]
        kept = [np.array_equal(f.yuv, b) for f, b in zip(frames, before)]
        assert not any(kept) if consume else all(kept)
    assert all(np.array_equal(a, b) for a, b in zip(outs[False], outs[True]))


def test_writer_takes_planes_and_a_changed_part(tmp_path):
    """A frame written as its source planes plus the changed part (at an origin) encodes
    exactly what the whole frame would (lossless), and parts that do not fit are refused."""
    clip = _grey_clip(tmp_path)
    frames = list(read_frames(clip, yuv=True))
    outs = []
    for mode in ("whole", "part"):
        out = tmp_path / f"{mode}.mp4"
        with VideoWriter(out, like=clip, crf=0) as w:
            assert w.takes_planes
            for f in frames:
                img = f.image.copy()
                img[20:40, 30:50] = 255 - img[20:40, 30:50]
                if mode == "whole":
                    w.write(img, f.pts, source_yuv=f.yuv, changed=(30, 20, 50, 40))
                elif f.index % 2:
                    w.write(None, f.pts, source_yuv=f.yuv)
                else:
                    w.write(img[16:44, 28:52], f.pts, source_yuv=f.yuv, changed=(30, 20, 50, 40),
                            origin=(28, 16))
        outs.append([g.image for g in read_frames(out)])
    for i, (a, b) in enumerate(zip(*outs)):
        if i % 2 == 0:
            assert np.array_equal(a, b), i
    assert np.array_equal(outs[1][1], frames[1].image) or np.abs(
        outs[1][1].astype(int) - frames[1].image).max() <= 4   # the source, unchanged
    with VideoWriter(tmp_path / "bad.mp4", like=clip) as w:
        w.write(None, 0, source_yuv=frames[0].yuv)
        with pytest.raises(NedError, match="chroma"):
            w.write(frames[1].image[16:44, 28:52], 1, source_yuv=frames[1].yuv,
                    changed=(30, 20, 50, 40), origin=(27, 16))
        with pytest.raises(NedError, match="inside"):
            w.write(frames[1].image[16:44, 28:52], 1, source_yuv=frames[1].yuv,
                    changed=(20, 20, 50, 40), origin=(28, 16))
