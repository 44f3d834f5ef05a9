"""Streamed video reading and writing on PyAV.

Frames are decoded one at a time (never the whole clip in memory) as RGB uint8 in display
orientation, with times in seconds from the first frame (as players show them). A
damaged packet is skipped and counted (a :class:`ned.errors.NedWarning` says how many);
a stream without timestamps (a raw H.264 / HEVC elementary stream, AVI's decode-order
timing) gets them from its frame rate. :class:`VideoWriter` encodes frames with the
source's frame rate, time base, per-frame timestamps (variable frame rate is kept), size,
rotation, bit depth and chroma layout (where the container's encoder allows; a warning
where it does not), and copies every audio stream of the source packet for packet (re-
encoded only where the container cannot hold the codec). Output is written to a
temporary file and renamed into place when the writer closes without error.

Containers written (:data:`CONTAINERS`): .mp4, .m4v, .mov, .mkv (H.264), .avi (H.264
without B-frames, at a constant rate), .webm (VP9, Opus audio). Any other extension is
refused before any work (:func:`check_video_output`).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from ned.atomic import atomic_path, check_output, remove_stale_temps
from ned.errors import NedError, warn
from ned.io.stamp import current_stamp, draw_mark

__all__ = ["VideoInfo", "Frame", "probe", "read_frames", "VideoWriter", "CONTAINERS",
           "check_video_output"]

#: Output containers: extension -> (FFmpeg muxer, video encoder).
CONTAINERS = {".mp4": ("mp4", "libx264"), ".m4v": ("mp4", "libx264"),
              ".mov": ("mov", "libx264"), ".mkv": ("matroska", "libx264"),
              ".avi": ("avi", "libx264"), ".webm": ("webm", "libvpx-vp9")}

#: Audio codecs each muxer takes as they are (None: any); others are re-encoded to the
#: muxer's entry in :data:`_AUDIO_FALLBACK`.
_AUDIO_OK: dict[str, frozenset[str] | None] = {
    "mp4": frozenset({"aac", "mp3", "alac", "ac3", "eac3"}),
    "mov": frozenset({"aac", "mp3", "alac", "ac3", "eac3", "pcm_s16le", "pcm_s16be",
                      "pcm_s24le", "pcm_s24be", "pcm_s32le", "pcm_f32le", "pcm_u8"}),
    "matroska": None,
    "avi": frozenset({"mp3", "aac", "ac3", "pcm_s16le", "pcm_u8"}),
    "webm": frozenset({"opus", "vorbis"}),
}
_AUDIO_FALLBACK = {"mp4": "aac", "mov": "aac", "matroska": "aac", "avi": "aac",
                   "webm": "libopus"}

#: AVFMT_NOTIMESTAMPS: the demuxer reads no timestamps (raw elementary streams).
_NO_TIMESTAMPS = 0x0080


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` reads from a video file.

    Attributes:
        path: the file.
        width, height: size of the displayed frame in pixels (after rotation).
        coded_width, coded_height: size as stored in the stream.
        fps: average frame rate (frames per second).
        rate: the same as an exact fraction.
        time_base: the video stream's time base.
        frame_count: number of video frames (counted by demuxing when the header lacks it).
        duration: seconds, from the first frame's start to the last frame's end.
        rotation: display rotation in degrees (0, 90, 180, 270), counter-clockwise.
        has_audio: whether the file has an audio stream.
        codec: the video codec's name.
        pix_fmt: the decoded frames' pixel format (``yuv420p``, ``yuv420p10le``, ...).
        audio_streams: how many audio streams the file has (all are copied).
        synthetic_timestamps: the file carries no usable timestamps (a raw stream, AVI):
            ``read_frames`` numbers the frames at ``rate`` in a ``1 / rate`` time base.
        video_bytes: the video stream's packets' bytes in all (0: not counted).
    """

    path: str
    width: int
    height: int
    coded_width: int
    coded_height: int
    fps: float
    rate: Fraction
    time_base: Fraction
    frame_count: int
    duration: float
    rotation: int
    has_audio: bool
    codec: str
    pix_fmt: str = "yuv420p"
    audio_streams: int = 0
    synthetic_timestamps: bool = False
    video_bytes: int = 0

    @property
    def bits_per_pixel(self) -> float | None:
        """How many bits the video stream spends per pixel of a frame (its packets' bytes
        over stored pixels x frames): how finely the source is coded (web video 0.05-0.3,
        near-lossless sources 1 and more). None when not known."""
        pixels = self.coded_width * self.coded_height * self.frame_count
        return 8.0 * self.video_bytes / pixels if self.video_bytes > 0 and pixels > 0 else None


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    Attributes:
        index: 0-based frame number in decode order of presentation.
        pts: presentation timestamp in ``time_base`` units (:attr:`VideoInfo.time_base`).
        time: presentation time in seconds from the clip's first frame.
        image: (H, W, 3) uint8 RGB, display orientation.
        yuv: (H * 3 // 2, W) planar YUV 4:2:0 as decoded, in the stream's stored
            orientation (uint8, or uint16 for 10-bit), only with ``read_frames(...,
            yuv=True)`` on a 4:2:0 stream; else None. Writing it back spares the RGB
            round trip's loss on every pixel an edit does not touch.
    """

    index: int
    pts: int
    time: float
    image: np.ndarray | None
    yuv: np.ndarray | None = field(default=None, repr=False, compare=False)


def _open(path: str | os.PathLike) -> av.container.InputContainer:
    p = Path(path)
    if not p.exists():
        raise NedError(f"no such file: {p}")
    if p.is_dir():
        raise NedError(f"{p} is a folder, not a video")
    try:
        container = av.open(str(p), "r")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as e:
        raise NedError(f"{p} is not a readable video ({_short(e)})") from None
    if not container.streams.video:
        container.close()
        raise NedError(f"{p} has no video stream")
    return container


def _short(e: Exception) -> str:
    """One short line from an FFmpeg error: its message without errno or file name."""
    text = getattr(e, "strerror", None) or (str(e).strip().splitlines() or [""])[0]
    return (text or e.__class__.__name__)[:160]


def _rotation_of(frame: av.VideoFrame) -> int:
    return int(round(getattr(frame, "rotation", 0) or 0)) % 360


def _to_display(image: np.ndarray, rotation: int) -> np.ndarray:
    """Rotate a stored frame (H, W, C) into display orientation (counter-clockwise)."""
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


def _rate(vs: av.video.stream.VideoStream) -> Fraction:
    return Fraction(vs.average_rate or vs.guessed_rate or vs.base_rate or 0)


class _Clock:
    """The timestamps ``read_frames`` gives a stream's frames.

    A stream with timestamps keeps them (a missing one is the previous plus a frame);
    a stream without (a raw elementary stream, AVI whose B-frames come out in a guessed
    order, a first frame without pts) numbers its frames at the frame rate in a ``1 /
    rate`` time base. Times count from the first frame.
    """

    def __init__(self, container: av.container.InputContainer,
                 vs: av.video.stream.VideoStream) -> None:
        self.rate = _rate(vs) or Fraction(25)
        fmt = container.format
        self.synthetic = bool(fmt.flags & _NO_TIMESTAMPS) or fmt.name.split(",")[0] == "avi"
        self.time_base = Fraction(1) / self.rate if self.synthetic else Fraction(vs.time_base)
        self.step = max(1, round(1 / (self.rate * self.time_base)))
        self.first: int | None = None
        self.last: int | None = None
        self.count = 0

    def stamp(self, frame: av.VideoFrame) -> int:
        """The pts of the next decoded frame (in :attr:`time_base` units)."""
        if self.count == 0 and frame.pts is None and not self.synthetic:
            self.synthetic = True  # no timestamps at all: number the frames
            self.time_base, self.step = Fraction(1) / self.rate, 1
        if self.synthetic:
            pts = self.count
        elif frame.pts is None:
            pts = self.last + self.step
        else:
            pts = int(frame.pts)
        if self.first is None:
            self.first = pts
        self.last = pts
        self.count += 1
        return pts

    def out_of_order(self, frame: av.VideoFrame) -> bool:
        """Whether a decoded frame's timestamp is not after the last one's (frames come
        in presentation order: only damage produces such a frame)."""
        return (not self.synthetic and frame.pts is not None and self.last is not None
                and frame.pts <= self.last)

    def seconds(self, pts: int) -> float:
        """Seconds from the first frame."""
        return float((pts - self.first) * self.time_base)


def probe(path: str | os.PathLike) -> VideoInfo:
    """Read a video's format facts without decoding more than its first frame.

    Args:
        path: a video file.

    Returns:
        A :class:`VideoInfo`.

    Raises:
        NedError: missing file, not a video, no video stream, or no decodable frame.
    """
    with _open(path) as c:
        vs = c.streams.video[0]
        clock = _Clock(c, vs)
        ctx = vs.codec_context
        first, error = None, None
        try:
            for packet in c.demux(vs):
                try:
                    first = next(iter(packet.decode()), None)
                except av.error.FFmpegError as e:
                    error = e  # a damaged packet: try the next one
                if first is not None:
                    break
        except av.error.FFmpegError as e:
            error = e
        if first is None:
            if error is not None:
                raise NedError(f"{path} has no decodable video frame ({_short(error)})")
            raise NedError(f"{path} has no video frames")
        clock.stamp(first)
        rotation = _rotation_of(first)
        cw, ch = first.width or ctx.width, first.height or ctx.height
        pix_fmt = first.format.name
        audio = len(c.streams.audio)
        rate = clock.rate if _rate(vs) else Fraction(0)
        codec = ctx.name
    count, start, end, size = _count_frames(path, clock)
    if clock.synthetic:
        rate = clock.rate
        start, end = 0.0, float(count / rate)
    elif rate == 0 and end > start and count > 1:
        rate = Fraction(count, 1) / Fraction(end - start).limit_denominator(1_000_000)
    w, h = (ch, cw) if rotation in (90, 270) else (cw, ch)
    return VideoInfo(path=str(path), width=w, height=h, coded_width=cw, coded_height=ch,
                     fps=float(rate), rate=rate, time_base=clock.time_base, frame_count=count,
                     duration=float(end - start), rotation=rotation, has_audio=audio > 0,
                     codec=codec, pix_fmt=pix_fmt, audio_streams=audio,
                     synthetic_timestamps=clock.synthetic, video_bytes=size)


def prefetch(frames: Iterator[Frame], depth: int = 4) -> Iterator[Frame]:
    """Decode in a background thread, ``depth`` frames ahead (PyAV releases the GIL while
    decoding, so decoding overlaps the consumer's work). Errors are re-raised here.

    Args:
        frames: a frame iterator (e.g. :func:`read_frames`).
        depth: frames held ready (bounds memory).

    Yields:
        The same frames, in order.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    errors: list[BaseException] = []
    stop = threading.Event()

    def work() -> None:
        try:
            for item in frames:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as e:  # re-raised in the consumer
            errors.append(e)
        finally:
            q.put(done)

    th = threading.Thread(target=work, daemon=True)
    th.start()
    try:
        while True:
            item = q.get()
            if item is done:
                break
            yield item
        if errors:
            raise errors[0]
    finally:
        stop.set()
        while th.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                th.join(0.05)


def _count_frames(path: str | os.PathLike, clock: _Clock) -> tuple[int, float, float, int]:
    """Count video packets by demuxing (no decoding); returns (count, start s, end s,
    bytes) (the times from the packets' timestamps, 0 where they have none)."""
    count, start, end, size = 0, None, 0.0, 0
    with _open(path) as c:
        vs = c.streams.video[0]
        tb = float(vs.time_base)
        try:
            for pkt in c.demux(vs):
                if pkt.size == 0:
                    continue
                count += 1
                size += pkt.size
                if pkt.pts is None or clock.synthetic:
                    continue
                t0 = pkt.pts * tb
                start = t0 if start is None else min(start, t0)
                end = max(end, t0 + (pkt.duration or 0) * tb)
        except av.error.FFmpegError:
            pass  # truncated tail: count what was readable
    return count, (start or 0.0), end, size


#: Decoded formats whose planes ``read_frames(yuv=True)`` returns (and the writer takes).
YUV_FORMATS = {"yuv420p": np.uint8, "yuv420p10le": np.uint16}


def _declared_end(vs: av.video.stream.VideoStream) -> float | None:
    """Where the video stream's frames end, in stream seconds, as its container declares
    it (None: not declared)."""
    if vs.duration:
        return float(((vs.start_time or 0) + vs.duration) * vs.time_base)
    text = (vs.metadata or {}).get("DURATION", "")  # Matroska's per-track tag: the end
    try:
        h, m, sec = text.split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec)
    except ValueError:
        return None


def shrunk_rgb(frame: av.VideoFrame, k: int) -> np.ndarray:
    """A decoded frame as RGB, downscaled by the integer factor ``k`` (stored orientation).

    An 8- or 10-bit 4:2:0 frame whose sides divide by ``2 k`` is shrunk on its planes (box
    averages of the luma and of the chroma, then OpenCV's BT.601 conversion of the small
    frame): at 4K with ``k`` 2 about 6 ms against 17 ms for swscale's conversion of the
    whole frame; others are converted and scaled by swscale.

    Args:
        frame: a decoded video frame.
        k: the factor (>= 1).

    Returns:
        (H // k, W // k, 3) uint8 RGB.
    """
    w, h = frame.width, frame.height
    if k <= 1:
        return frame.to_ndarray(format="rgb24")
    name = frame.format.name
    if (name in YUV_FORMATS and w % (2 * k) == 0 and h % (4 * k) == 0
            and all(p.line_size > 0 for p in frame.planes)):
        y, u, v = (_plane_view(frame, i, YUV_FORMATS[name]) for i in range(3))
        if y.dtype == np.uint16:  # 10 bits: the 8 the analysis needs
            y, u, v = ((p >> 2).astype(np.uint8) for p in (y, u, v))
        sw, sh = w // k, h // k
        small = np.empty((sh * 3 // 2, sw), np.uint8)
        small[:sh] = cv2.resize(y, (sw, sh), interpolation=cv2.INTER_AREA)
        q = sh // 4
        small[sh:sh + q] = cv2.resize(u, (sw // 2, sh // 2),
                                      interpolation=cv2.INTER_AREA).reshape(q, sw)
        small[sh + q:] = cv2.resize(v, (sw // 2, sh // 2),
                                    interpolation=cv2.INTER_AREA).reshape(q, sw)
        return cv2.cvtColor(small, cv2.COLOR_YUV2RGB_I420)
    return frame.to_ndarray(format="rgb24", width=max(1, w // k), height=max(1, h // k))


def _plane_view(frame: av.VideoFrame, i: int, dtype: type) -> np.ndarray:
    """Plane ``i`` of a decoded frame as a (rows, columns) array of ``dtype`` that views
    the decoder's buffer (no copy: a 4K frame's planes are 12 MB), valid while ``frame``
    is."""
    p = frame.planes[i]
    item = np.dtype(dtype).itemsize
    rows = np.frombuffer(p, dtype, count=p.line_size // item * p.height)
    return rows.reshape(p.height, p.line_size // item)[:, :p.width]


def planes_to_rgb(planes: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """A box of a frame's 4:2:0 planes (``Frame.yuv``) as RGB (OpenCV's BT.601
    conversion, the inverse of what :class:`VideoWriter` does to a changed box; 10-bit
    planes are cut to 8 bits).

    Args:
        planes: (H * 3 // 2, W) uint8 (or uint16, 10-bit) planar 4:2:0, H divisible by 4.
        box: (x0, y0, x1, y1) with x0, x1 even and y0, y1 multiples of 4 (or y1 = H).

    Returns:
        (y1 - y0, x1 - x0, 3) uint8 RGB.
    """
    w = planes.shape[1]
    h = planes.shape[0] * 2 // 3
    x0, y0, x1, y1 = box
    if x0 % 2 or x1 % 2 or y0 % 4 or (y1 % 4 and y1 != h) or not (
            0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
        raise NedError(f"box {box} does not cut whole chroma rows out of a {w}x{h} frame")
    bw, bh = x1 - x0, y1 - y0
    u = planes[h:h + h // 4].reshape(h // 2, w // 2)[y0 // 2:y1 // 2, x0 // 2:x1 // 2]
    v = planes[h + h // 4:].reshape(h // 2, w // 2)[y0 // 2:y1 // 2, x0 // 2:x1 // 2]
    sub = np.empty((bh * 3 // 2, bw), planes.dtype)
    sub[:bh] = planes[y0:y1, x0:x1]
    q = bh // 4
    sub[bh:bh + q] = u.reshape(q, bw)
    sub[bh + q:] = v.reshape(q, bw)
    if sub.dtype == np.uint16:
        sub = (sub >> 2).astype(np.uint8)
    return cv2.cvtColor(sub, cv2.COLOR_YUV2RGB_I420)


def read_frames(path: str | os.PathLike, *, start: int = 0,
                stop: int | None = None, yuv: bool = False, shrink: int = 1,
                rgb: bool = True, threads: int = 0) -> Iterator[Frame]:
    """Iterate over a video's frames, decoded one at a time.

    A packet that does not decode (a damaged stretch) is skipped; a stretch the demuxer
    cannot read ends the iteration. Either way a :class:`ned.errors.NedWarning` says so
    once the clip has been read to its end (every reader of a clip sees the same frames).

    Args:
        path: a video file.
        start: first frame index to yield.
        stop: frame index to stop before (None = to the end).
        yuv: also keep the decoded 4:2:0 planes (``Frame.yuv``) when the stream is 8- or
            10-bit 4:2:0 (:data:`YUV_FORMATS`), in stored orientation.
        shrink: give ``image`` downscaled by this integer factor (:func:`shrunk_rgb`: a
            view of a large frame for the analysis).
        rgb: False with ``yuv``: no RGB ``image`` for frames whose planes are kept (the
            caller converts the part it needs: :func:`planes_to_rgb`).
        threads: decoder threads (0: FFmpeg's choice; a 4K H.264 stream's frame threads
            hold about 50 MB more than one thread).

    Yields:
        :class:`Frame` with ``image`` (H, W, 3) uint8 RGB in display orientation
        ((H // shrink, W // shrink, 3) with ``shrink``).

    Raises:
        NedError: unreadable file, or no frame decodes at all.
    """
    if start < 0 or (stop is not None and stop < start):
        raise NedError(f"bad frame range [{start}, {stop})")
    if shrink < 1:
        raise NedError(f"shrink must be >= 1, got {shrink}")
    with _open(path) as c:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        if threads:
            vs.codec_context.thread_count = threads
        clock = _Clock(c, vs)
        packets = c.demux(vs)
        index, damaged, stray, cut_short, error = 0, 0, 0, False, None
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError as e:  # the container itself is damaged here
                cut_short, error = True, e
                break
            try:
                decoded = packet.decode()
            except av.error.FFmpegError as e:
                damaged, error = damaged + 1, e
                continue
            for frame in decoded:
                if stop is not None and index >= stop:
                    return
                if clock.out_of_order(frame):  # a damaged stretch's stray frame
                    stray += 1
                    continue
                pts = clock.stamp(frame)
                if index >= start:
                    rot = _rotation_of(frame)
                    planes = None
                    if (yuv and frame.format.name in YUV_FORMATS
                            and frame.height % 4 == 0 and frame.width % 2 == 0):
                        planes = frame.to_ndarray(format=frame.format.name)
                    image = (_to_display(shrunk_rgb(frame, shrink), rot)
                             if rgb or planes is None else None)
                    yield Frame(index=index, pts=pts, time=clock.seconds(pts), image=image,
                                yuv=planes)
                index += 1
        if index == 0:
            if error is not None:
                raise NedError(f"{path} has no decodable video frame ({_short(error)})")
            raise NedError(f"{path} has no video frames")
        if damaged or stray:
            why = f" ({_short(error)})" if error is not None else ""
            warn(f"{path}: skipped {damaged} damaged video packet(s)"
                 + (f" and {stray} frame(s) out of order" if stray else "")
                 + f"; {index} frames decoded{why}")
        if cut_short:
            warn(f"{path}: the file is damaged or truncated after frame {index}; the rest "
                 f"could not be read ({_short(error)})")
        elif stop is None:
            declared = _declared_end(vs)
            read = float((clock.last + clock.step) * clock.time_base)  # stream time
            frame = float(clock.step * clock.time_base)
            if declared is not None and read < declared - max(2 * frame, 0.05 * declared):
                warn(f"{path}: the video stream declares frames up to {declared:.2f} s but "
                     f"ends at {read:.2f} s ({index} frames): the file looks truncated")


def check_video_output(path: str | os.PathLike,
                       inputs: tuple[str | os.PathLike | None, ...] = (),
                       what: str = "output") -> Path:
    """Refuse, with one line and before any work, a video output ned cannot write: a
    container it has no writer for (.gif, ...), a folder, a missing or read-only folder,
    an input (:func:`ned.atomic.check_output`).

    Returns:
        ``path`` as a :class:`Path`.
    """
    return check_output(path, inputs=inputs, suffixes=tuple(CONTAINERS), what=what)


def _bits(pix_fmt: str) -> int:
    try:
        return int(av.VideoFormat(pix_fmt).components[0].bits)
    except (ValueError, IndexError, TypeError):
        return 8


def output_format(codec: str, source: str, width: int, height: int) -> tuple[str, str | None]:
    """The pixel format to encode a source of pixel format ``source`` at (stored) size
    ``width`` x ``height`` in: the source's chroma layout (4:2:0, 4:2:2, 4:4:4; anything
    else as 4:2:0) and bit depth (8 or 10) where ``codec`` allows.

    Returns:
        (pixel format, a warning saying what could not be kept, or None).
    """
    supported = {f.name for f in av.codec.Codec(codec, "w").video_formats}
    layout = "444" if "444" in source else "422" if "422" in source else "420"
    deep = _bits(source) > 8
    notes = []
    if layout == "420" and (width % 2 or height % 2):
        layout = "444"
        notes.append(f"4:2:0 needs an even size, {width}x{height} is written as 4:4:4 (High "
                     "4:4:4 profile, which some players refuse; crop or pad the clip to an "
                     "even size for a 4:2:0 output)")
    elif layout == "422" and width % 2:
        layout = "444"
        notes.append(f"4:2:2 needs an even width, {width}x{height} is written as 4:4:4")
    want = f"yuv{layout}p" + ("10le" if deep else "")
    if deep and want not in supported:
        notes.append(f"{codec} cannot write {_bits(source)}-bit video here: written as 8-bit")
        want = f"yuv{layout}p"
    elif deep and _bits(source) > 10:
        notes.append(f"{_bits(source)}-bit video is written as 10-bit")
    if want not in supported:
        want = "yuv420p" if "yuv420p" in supported and not (width % 2 or height % 2) \
            else "yuv444p"
    return want, ("; ".join(notes) or None)


class VideoWriter:
    """Encode frames to a new video, keeping a source's timing, rotation, bit depth,
    chroma layout and audio.

    Use as a context manager. The file appears at ``path`` only when the block ends
    without an exception; otherwise nothing is left behind (and the temporary files of
    killed earlier runs are removed).

    Args:
        path: output file; its extension picks the container and the encoder
            (:data:`CONTAINERS`; anything else is refused here, before any work).
        fps: frame rate when there is no ``like`` source.
        size: (width, height) of the displayed frames when there is no ``like`` source.
        like: a source video whose frame rate, time base, size, rotation, pixel format
            (chroma layout and bit depth) are kept.
        audio_from: a video whose audio streams are all copied packet for packet
            (usually the same as ``like``); None for no audio.
        crf: constant rate factor, 0 (lossless) to 51 (x264's scale; VP9's is 0-63).
        preset: x264 preset.
        threads: encoder threads (0 = automatic).
        lookahead: x264's rate-control lookahead in frames (None: the preset's; each frame
            of it holds about 25 MB at 4K).
        b_pyramid: x264 keeps B-frames as references (the preset's ``normal`` pyramid);
            False: none is (``b-pyramid none``: one reference frame fewer held, about
            85 MB at 4K).
    """

    def __init__(self, path: str | os.PathLike, *, fps: float | Fraction | None = None,
                 size: tuple[int, int] | None = None, like: str | os.PathLike | None = None,
                 audio_from: str | os.PathLike | None = None, crf: int = 16,
                 preset: str = "veryfast", threads: int = 0,
                 lookahead: int | None = None, b_pyramid: bool = True) -> None:
        self.path = check_video_output(path, inputs=(like, audio_from))
        self.muxer, self.codec = CONTAINERS[self.path.suffix.lower()]
        self.source_pix_fmt = "yuv420p"
        if like is not None:
            info = probe(like)
            self.rate = info.rate if info.rate else Fraction(30)
            self.time_base = info.time_base
            self.size = (info.width, info.height)
            self.rotation = info.rotation
            self.source_pix_fmt = info.pix_fmt
        else:
            if fps is None or size is None:
                raise NedError("VideoWriter needs either like= or both fps= and size=")
            self.rate = Fraction(fps).limit_denominator(1_000_000)
            self.time_base = 1 / (self.rate * 512) if self.rate else Fraction(1, 15360)
            self.size = (int(size[0]), int(size[1]))
            self.rotation = 0
        if self.rate <= 0 or self.size[0] < 1 or self.size[1] < 1:
            raise NedError(f"bad output format: {self.size[0]}x{self.size[1]} at {self.rate} fps")
        # AVI has no presentation timestamps (frames at a constant rate, decode order) and
        # no display rotation: frames are numbered and written upright
        self.constant_rate = self.muxer == "avi"
        if self.constant_rate:
            self.time_base = Fraction(1) / self.rate
        self._pixels_rotation = 0 if self.constant_rate else self.rotation
        self.audio_from = audio_from
        self.crf, self.preset, self.threads = crf, preset, threads
        self.lookahead = lookahead
        self.b_pyramid = b_pyramid
        self._tmp = atomic_path(self.path)
        self._out: av.container.OutputContainer | None = None
        self._count = 0
        self._last_pts = -1
        self._stamp = current_stamp()   # provenance (ned.io.stamp), read on this thread

    # -- context management -------------------------------------------------------------
    def __enter__(self) -> VideoWriter:
        self.open()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def open(self) -> None:
        """Create the (temporary) output file and its streams; :meth:`write` opens the
        writer by itself if needed. Raises NedError if the file cannot be written."""
        if self._out is not None:
            return
        remove_stale_temps(self.path)
        try:
            self._out = av.open(str(self._tmp), "w", format=self.muxer)
        except (av.error.FFmpegError, ValueError) as e:
            raise NedError(f"cannot write {self.path} ({_short(e)})") from None
        if self._stamp is not None:
            self._out.metadata.update(self._stamp.metadata)
        try:
            self._open_streams()
        except BaseException:
            self.abort()
            raise

    def _open_streams(self) -> None:
        cw, ch = self.size
        if self._pixels_rotation in (90, 270):
            cw, ch = ch, cw
        pix_fmt, note = output_format(self.codec, self.source_pix_fmt, cw, ch)
        if note:
            warn(f"{self.path}: {note}")
        vs = self._out.add_stream(self.codec, rate=self.rate)
        vs.width, vs.height = cw, ch
        vs.pix_fmt = pix_fmt
        vs.time_base = self.time_base
        vs.codec_context.time_base = self.time_base
        if self.codec == "libx264":
            # x264's crf 0 is lossless at 8 bits only; deeper video needs qp 0
            quality = ({"qp": "0"} if self.crf == 0 and pix_fmt.endswith("10le")
                       else {"crf": str(self.crf)})
            vs.options = {**quality, "preset": self.preset,
                          **({"bf": "0"} if self.constant_rate else {}),
                          **({"rc-lookahead": str(self.lookahead)}
                             if self.lookahead is not None else {}),
                          **({} if self.b_pyramid else {"b-pyramid": "none"})}
        else:  # libvpx-vp9: constant quality, fast
            vs.options = ({"lossless": "1"} if self.crf == 0 else
                          {"crf": str(min(63, round(self.crf * 63 / 51))), "b": "0"})
            vs.options.update({"deadline": "realtime", "cpu-used": "8", "row-mt": "1"})
        vs.thread_type = "AUTO"
        if self.threads:
            vs.codec_context.thread_count = self.threads
        if self._pixels_rotation:
            vs.set_display_rotation(self._pixels_rotation)
        elif self.rotation:
            warn(f"{self.path}: {self.path.suffix} keeps no display rotation; the frames "
                 "are written upright")
        self._vs = vs
        self._yuv_dtype = YUV_FORMATS.get(pix_fmt)
        self._audio = (_AudioCopier(self.audio_from, self._out, self.muxer, self.path)
                       if self.audio_from else None)

    # -- writing -----------------------------------------------------------------------------
    @property
    def takes_planes(self) -> bool:
        """Whether :meth:`write` encodes a source's planes as they are (its pixel format is
        the 4:2:0 of :data:`YUV_FORMATS` and nothing rotates): then it also takes just the
        changed part of a frame (``origin``), or no image at all."""
        if self._out is None:
            self.open()
        return self._yuv_dtype is not None and self._pixels_rotation == self.rotation == 0

    def write(self, image: np.ndarray | None, pts: int | None = None, *,
              source_yuv: np.ndarray | None = None,
              changed: tuple[int, int, int, int] | None = None,
              origin: tuple[int, int] | None = None, consume: bool = False) -> None:
        """Encode one frame.

        Args:
            image: (H, W, 3) uint8 RGB in display orientation, H, W = the output size;
                with ``origin``, only a part of the frame holding ``changed``; None: the
                frame is ``source_yuv`` unchanged (see :attr:`takes_planes`).
            pts: presentation timestamp in the output time base (the source frame's
                ``Frame.pts`` when re-encoding a source); None = evenly spaced at the rate
                (always so in AVI).
            source_yuv: the source frame's decoded 4:2:0 planes (``Frame.yuv``): pixels
                outside ``changed`` are encoded from them exactly, with no colour
                conversion.
            changed: (x0, y0, x1, y1) box (display coordinates) where ``image`` differs
                from the source; None = nothing changed (with ``source_yuv``) or
                everything (without).
            origin: (x, y) of ``image``'s first pixel in the frame, when it is a part of
                it (with ``source_yuv`` and ``changed`` inside it; x and the part's width
                even, y and its height multiples of 4 or its foot the frame's; see
                :attr:`takes_planes`).
            consume: the caller hands ``source_yuv`` over (it does not read it after): the
                changed box is written into it instead of into a copy of it (a 12 MB copy a
                frame fewer at 4K; 8-bit planes then reach the encoder with no copy at all).
        """
        if self._out is None:
            self.open()
        w, h = self.size
        if image is None or origin is not None:
            self._write_planes(image, pts, source_yuv, changed, origin or (0, 0), consume)
            return
        if image.dtype != np.uint8 or image.shape != (h, w, 3):
            raise NedError(f"frame must be ({h}, {w}, 3) uint8, got {image.shape} {image.dtype}")
        marked = None
        if self._stamp is not None and self._stamp.mark:
            image, marked = draw_mark(image, self._stamp.mark)
        if pts is None or self.constant_rate:
            pts = round(self._count / (self.rate * self.time_base))
        pts = max(int(pts), self._last_pts + 1)
        rot = self._pixels_rotation
        vs = self._vs
        if (source_yuv is not None and self._yuv_dtype is not None and rot == self.rotation
                and source_yuv.dtype == self._yuv_dtype
                and source_yuv.shape == (vs.height * 3 // 2, vs.width)):
            box = changed
            if box is not None or marked is not None:
                stored = _to_display(image, (360 - rot) % 360) if rot else image
                box = _box_to_stored(box, rot, (w, h)) if rot and box is not None else box
            else:
                stored = None
            planes = _merge_yuv(source_yuv, stored, box, in_place=consume)
            if marked is not None:   # the mark's box on its own: nothing between converted
                planes = _merge_yuv(planes, stored,
                                    _box_to_stored(marked, rot, (w, h)) if rot else marked)
            frame = _planes_frame(planes, vs.pix_fmt)
        else:
            stored = _to_display(image, (360 - rot) % 360) if rot else image
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(stored), format="rgb24")
        self._encode(frame, pts)

    def _write_planes(self, image: np.ndarray | None, pts: int | None,
                      source_yuv: np.ndarray | None, changed: tuple[int, int, int, int] | None,
                      origin: tuple[int, int], consume: bool = False) -> None:
        """:meth:`write` of a source's planes with an optional changed part ``image``."""
        vs = self._vs
        if (source_yuv is None or not self.takes_planes or source_yuv.dtype != self._yuv_dtype
                or source_yuv.shape != (vs.height * 3 // 2, vs.width)):
            raise NedError("a frame given as the source's planes needs a writer that takes "
                           "them (VideoWriter.takes_planes) and the planes of its size")
        if self._stamp is not None and self._stamp.mark:
            raise NedError("a marked output needs whole frames")
        box = changed if image is not None else None
        if box is not None:
            ox, oy = origin
            bh, bw = image.shape[:2]
            if ox % 2 or oy % 4 or bw % 2 or (bh % 4 and oy + bh != vs.height):
                raise NedError(f"a frame part must cover whole chroma rows: at {origin}, "
                               f"{bw}x{bh}")
            if not (ox <= box[0] and oy <= box[1] and box[2] <= ox + bw
                    and box[3] <= oy + bh):
                raise NedError(f"changed box {box} is not inside the part given at {origin}")
        if pts is None or self.constant_rate:
            pts = round(self._count / (self.rate * self.time_base))
        pts = max(int(pts), self._last_pts + 1)
        planes = _merge_yuv(source_yuv, image, box, origin, in_place=consume)
        self._encode(_planes_frame(planes, vs.pix_fmt), pts)

    def _encode(self, frame: av.VideoFrame, pts: int) -> None:
        frame.pts = pts
        frame.time_base = self.time_base
        if self._audio is not None:
            self._audio.copy_until(float(pts * self.time_base) + 0.5)
        for packet in self._vs.encode(frame):
            self._out.mux(packet)
        self._count += 1
        self._last_pts = pts

    @property
    def frames_written(self) -> int:
        return self._count

    def close(self) -> None:
        """Flush the encoder, copy the remaining audio and move the file into place."""
        if self._out is None:
            self.open()
        try:
            for packet in self._vs.encode(None):
                self._out.mux(packet)
            if self._audio is not None:
                self._audio.copy_until(float("inf"))
                self._audio.close()
            self._out.close()
            self._out = None
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Stop writing and remove the temporary file; the output path is not touched."""
        try:
            if getattr(self, "_audio", None) is not None:
                self._audio.close()
            if self._out is not None:
                self._out.close()
        except Exception:  # cleanup must not mask the original error
            pass
        self._out = None
        if self._tmp.exists():
            self._tmp.unlink()


class WriteBehind:
    """A :class:`VideoWriter` whose frames are encoded on a background thread, up to
    ``depth`` frames behind the caller (the encoder releases the GIL, so encoding overlaps
    the caller's next frame). Frames passed to :meth:`write` must not be changed after.

    Errors of the background writes are raised by the next :meth:`write` or by
    :meth:`close`; :meth:`abort` drops everything and removes the partial output.
    """

    def __init__(self, writer: VideoWriter, depth: int = 4) -> None:
        self.writer = writer
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is None:
                try:
                    self.writer.write(item[0], *item[1], **item[2])
                except BaseException as e:  # re-raised in the caller
                    self._error = e

    def write(self, image: np.ndarray, *args: object, **kwargs: object) -> None:
        """Queue one frame (see :meth:`VideoWriter.write`)."""
        if self._error is not None:
            raise self._error
        self._queue.put((image, args, kwargs))

    def close(self) -> None:
        """Encode what is queued and finish the file."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            self.writer.abort()
            raise self._error
        self.writer.close()

    def abort(self) -> None:
        """Stop, drop queued frames, remove the partial output."""
        self._error = self._error or RuntimeError("aborted")
        while self._thread.is_alive():
            try:
                self._queue.put(None, timeout=0.1)
            except queue.Full:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    pass
            self._thread.join(0.1)
        self.writer.abort()


def _box_to_stored(box: tuple[int, int, int, int], rotation: int,
                   size: tuple[int, int]) -> tuple[int, int, int, int]:
    """A display-orientation box (x0, y0, x1, y1) of a frame whose display size is
    ``size`` (width, height) in the stored orientation (``_to_display`` rotates a stored
    frame by ``rotation`` degrees counter-clockwise into the display)."""
    x0, y0, x1, y1 = box
    w, h = size
    k = (rotation // 90) % 4
    if k == 1:   # display (r, c) = stored (c, W_s - 1 - r), W_s = h
        return (h - y1, x0, h - y0, x1)
    if k == 2:
        return (w - x1, h - y1, w - x0, h - y0)
    if k == 3:   # display (r, c) = stored (H_s - 1 - c, r), H_s = w
        return (y0, w - x1, y1, w - x0)
    return box


def _planes_frame(planes: np.ndarray, pix_fmt: str) -> av.VideoFrame:
    """A frame of 4:2:0 planes (H * 3 // 2, W) for the encoder. 8-bit planes are wrapped,
    not copied (the frame holds a reference; x264 copies what it keeps as it takes the
    frame: at 4K one 12 MB copy a frame fewer); 10-bit ones are copied (PyAV wraps no
    16-bit planes)."""
    if planes.dtype == np.uint8 and planes.flags.c_contiguous:
        return av.VideoFrame.from_numpy_buffer(planes, format=pix_fmt)
    return av.VideoFrame.from_ndarray(planes, format=pix_fmt)


def _merge_yuv(source: np.ndarray, image: np.ndarray | None,
               box: tuple[int, int, int, int] | None,
               origin: tuple[int, int] = (0, 0), in_place: bool = False) -> np.ndarray:
    """Source 4:2:0 planes (uint8, or uint16 10-bit) with the box (grown to even bounds)
    taken from ``image`` (RGB, the planes' orientation; the whole frame, or the part of it
    at ``origin``): a copy, or ``source`` itself changed with ``in_place``."""
    if box is None or image is None:
        return source
    w = source.shape[1]
    h = source.shape[0] * 2 // 3
    ox, oy = origin
    # chroma is shared by 2x2 pixels and PyAV packs each chroma plane in rows of the
    # full width, so the box spans whole chroma pixels and a multiple of 4 rows
    x0, y0 = max(0, box[0]) & ~1, max(0, box[1]) & ~3
    x1, y1 = min(w, (box[2] + 1) & ~1), min(h, (box[3] + 3) & ~3)
    if x1 <= x0 or y1 <= y0:
        return source
    # OpenCV's BT.601 limited-range conversion: swscale's to rounding (a few pixels differ
    # by 1-4 levels) and 20x faster on odd box sizes (0.05 vs 0.9 ms for a 280x310 box)
    sub = cv2.cvtColor(np.ascontiguousarray(image[y0 - oy:y1 - oy, x0 - ox:x1 - ox]),
                       cv2.COLOR_RGB2YUV_I420)
    if source.dtype == np.uint16:  # 10-bit planes: the edit's 8 bits, scaled
        sub = sub.astype(np.uint16) << 2
    bh, bw = y1 - y0, x1 - x0
    out = source if in_place else source.copy()
    out[y0:y1, x0:x1] = sub[:bh]
    u, v = sub[bh:bh + bh // 4].reshape(bh // 2, bw // 2), sub[bh + bh // 4:].reshape(bh // 2,
                                                                                     bw // 2)
    uo = out[h:h + h // 4].reshape(h // 2, w // 2)
    vo = out[h + h // 4:].reshape(h // 2, w // 2)
    uo[y0 // 2:y1 // 2, x0 // 2:x1 // 2] = u
    vo[y0 // 2:y1 // 2, x0 // 2:x1 // 2] = v
    return out


class _AudioCopier:
    """Copies every audio stream of a source into an output, streamed: packet for packet
    where the container takes the codec, else re-encoded (with a warning)."""

    def __init__(self, source: str | os.PathLike, out: av.container.OutputContainer,
                 muxer: str, path: Path) -> None:
        self._in = _open(source)
        self._out = out
        self._map: dict[int, tuple[av.stream.Stream, av.stream.Stream, bool]] = {}
        ok = _AUDIO_OK.get(muxer)
        for src in self._in.streams.audio:
            ctx = src.codec_context
            name = ctx.codec.canonical_name if ctx is not None and ctx.codec else None
            if not name:
                continue
            if ok is None or name in ok:
                self._map[src.index] = (src, out.add_stream_from_template(src), False)
                continue
            codec = _AUDIO_FALLBACK[muxer]
            rate = 48000 if codec == "libopus" else (src.rate or 48000)
            dst = out.add_stream(codec, rate=rate)
            try:
                dst.layout = src.layout.name if src.channels <= 2 else "stereo"
            except (ValueError, AttributeError):
                dst.layout = "stereo"
            self._map[src.index] = (src, dst, True)
            warn(f"{path}: {path.suffix} cannot hold {name} audio; audio stream "
                 f"{src.index} is re-encoded as {codec.removeprefix('lib')}")
        streams = [m[0] for m in self._map.values()]
        self._packets: Iterator[av.Packet] | None = (self._in.demux(*streams) if streams
                                                     else None)
        self._pending: av.Packet | None = None

    def copy_until(self, seconds: float) -> None:
        """Mux the source's audio packets whose time is before ``seconds``."""
        if self._packets is None:
            return
        while True:
            pkt = self._pending or next(self._packets, None)
            self._pending = None
            if pkt is None:
                self._packets = None
                self._flush()
                return
            src, dst, transcode = self._map[pkt.stream.index]
            if pkt.dts is None and pkt.pts is None:
                if transcode:
                    self._encode(dst, src, pkt)  # the demuxer's final flush packet
                continue
            t = float((pkt.dts if pkt.dts is not None else pkt.pts) * src.time_base)
            if t > seconds:
                self._pending = pkt
                return
            if transcode:
                self._encode(dst, src, pkt)
            else:
                pkt.stream = dst
                self._out.mux(pkt)

    def _encode(self, dst: av.stream.Stream, src: av.stream.Stream, pkt: av.Packet) -> None:
        try:
            frames = pkt.decode()
        except av.error.FFmpegError:
            return  # a damaged audio packet: skipped
        for f in frames:
            f.pts = None
            for p in dst.encode(f):
                self._out.mux(p)

    def _flush(self) -> None:
        for _, dst, transcode in self._map.values():
            if transcode:
                for p in dst.encode(None):
                    self._out.mux(p)

    def close(self) -> None:
        self._in.close()
