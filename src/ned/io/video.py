"""Streamed video reading and writing on PyAV.

Frames are decoded one at a time (never the whole clip in memory) as RGB uint8 in display
orientation. :class:`VideoWriter` encodes frames with the source's frame rate, time base,
per-frame timestamps (variable frame rate is kept), size and rotation, and copies the
source's audio stream packet for packet, without re-encoding. Output is written to a
temporary file and renamed into place when the writer closes without error.
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

from ned.atomic import atomic_path
from ned.errors import NedError

__all__ = ["VideoInfo", "Frame", "probe", "read_frames", "VideoWriter"]


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


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    Attributes:
        index: 0-based frame number in decode order of presentation.
        pts: presentation timestamp in ``time_base`` units.
        time: presentation time in seconds.
        image: (H, W, 3) uint8 RGB, display orientation.
        yuv: (H * 3 // 2, W) uint8 planar YUV 4:2:0 as decoded (only with
            ``read_frames(..., yuv=True)`` on an unrotated 4:2:0 stream; else None). Writing
            it back spares the RGB round trip's loss on every pixel an edit does not touch.
    """

    index: int
    pts: int
    time: float
    image: np.ndarray
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
        rate = Fraction(vs.average_rate or vs.guessed_rate or vs.base_rate or 0)
        time_base = Fraction(vs.time_base)
        ctx = vs.codec_context
        try:
            first = next(iter(c.decode(vs)), None)
        except av.error.FFmpegError as e:
            raise NedError(f"{path} has no decodable video frame ({_short(e)})") from None
        if first is None:
            raise NedError(f"{path} has no video frames")
        rotation = _rotation_of(first)
        cw, ch = first.width or ctx.width, first.height or ctx.height
        has_audio = bool(c.streams.audio)
    count, start, end = _count_frames(path)
    if rate == 0 and end > start and count > 1:
        rate = Fraction(count, 1) / Fraction(end - start).limit_denominator(1_000_000)
    w, h = (ch, cw) if rotation in (90, 270) else (cw, ch)
    return VideoInfo(path=str(path), width=w, height=h, coded_width=cw, coded_height=ch,
                     fps=float(rate), rate=rate, time_base=time_base, frame_count=count,
                     duration=float(end - start), rotation=rotation, has_audio=has_audio,
                     codec=ctx.name)


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


def _count_frames(path: str | os.PathLike) -> tuple[int, float, float]:
    """Count video packets by demuxing (no decoding); returns (count, start s, end s)."""
    count, start, end = 0, None, 0.0
    with _open(path) as c:
        vs = c.streams.video[0]
        tb = float(vs.time_base)
        try:
            for pkt in c.demux(vs):
                if pkt.size == 0 or pkt.pts is None:
                    continue
                count += 1
                t0 = pkt.pts * tb
                start = t0 if start is None else min(start, t0)
                end = max(end, t0 + (pkt.duration or 0) * tb)
        except av.error.FFmpegError:
            pass  # truncated tail: count what was readable
    return count, (start or 0.0), end


def read_frames(path: str | os.PathLike, *, start: int = 0,
                stop: int | None = None, yuv: bool = False) -> Iterator[Frame]:
    """Iterate over a video's frames, decoded one at a time.

    Args:
        path: a video file.
        start: first frame index to yield.
        stop: frame index to stop before (None = to the end).
        yuv: also keep the decoded 4:2:0 planes (``Frame.yuv``) when the stream is 4:2:0
            and unrotated.

    Yields:
        :class:`Frame` with ``image`` (H, W, 3) uint8 RGB in display orientation.

    Raises:
        NedError: unreadable file. A corrupt tail ends the iteration after the last
            decodable frame.
    """
    if start < 0 or (stop is not None and stop < start):
        raise NedError(f"bad frame range [{start}, {stop})")
    with _open(path) as c:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        tb = vs.time_base
        index = 0
        try:
            for frame in c.decode(vs):
                if stop is not None and index >= stop:
                    return
                if index >= start:
                    rot = _rotation_of(frame)
                    image = _to_display(frame.to_ndarray(format="rgb24"), rot)
                    planes = None
                    if (yuv and not rot and frame.format.name == "yuv420p"
                            and frame.height % 4 == 0 and frame.width % 2 == 0):
                        planes = frame.to_ndarray(format="yuv420p")
                    pts = frame.pts if frame.pts is not None else index
                    yield Frame(index=index, pts=int(pts), time=float(pts * tb), image=image,
                                yuv=planes)
                index += 1
        except av.error.FFmpegError as e:
            if index == 0:
                raise NedError(f"{path} has no decodable video frame ({_short(e)})") from None


class VideoWriter:
    """Encode frames to a new video, keeping a source's timing, rotation and audio.

    Use as a context manager. The file appears at ``path`` only when the block ends
    without an exception; otherwise nothing is left behind.

    Args:
        path: output file (its extension picks the container, e.g. ``.mp4``).
        fps: frame rate when there is no ``like`` source.
        size: (width, height) of the displayed frames when there is no ``like`` source.
        like: a source video whose frame rate, time base, size and rotation are kept.
        audio_from: a video whose audio stream is copied packet for packet (usually
            the same as ``like``); None for no audio.
        crf: x264 constant rate factor (lower is better quality).
        preset: x264 preset.
        threads: encoder threads (0 = automatic).
    """

    def __init__(self, path: str | os.PathLike, *, fps: float | Fraction | None = None,
                 size: tuple[int, int] | None = None, like: str | os.PathLike | None = None,
                 audio_from: str | os.PathLike | None = None, crf: int = 16,
                 preset: str = "veryfast", threads: int = 0) -> None:
        self.path = Path(path)
        if like is not None:
            info = probe(like)
            self.rate = info.rate if info.rate else Fraction(30)
            self.time_base = info.time_base
            self.size = (info.width, info.height)
            self.rotation = info.rotation
        else:
            if fps is None or size is None:
                raise NedError("VideoWriter needs either like= or both fps= and size=")
            self.rate = Fraction(fps).limit_denominator(1_000_000)
            self.time_base = 1 / (self.rate * 512) if self.rate else Fraction(1, 15360)
            self.size = (int(size[0]), int(size[1]))
            self.rotation = 0
        if self.rate <= 0 or self.size[0] < 1 or self.size[1] < 1:
            raise NedError(f"bad output format: {self.size[0]}x{self.size[1]} at {self.rate} fps")
        if not self.path.parent.exists():
            raise NedError(f"output folder does not exist: {self.path.parent}")
        if not os.access(self.path.parent, os.W_OK):
            raise NedError(f"output folder is not writable: {self.path.parent}")
        self.audio_from = audio_from
        self.crf, self.preset, self.threads = crf, preset, threads
        self._tmp = atomic_path(self.path)
        self._out: av.container.OutputContainer | None = None
        self._count = 0
        self._last_pts = -1

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
        try:
            self._out = av.open(str(self._tmp), "w", format=_format_for(self.path))
        except (av.error.FFmpegError, ValueError) as e:
            raise NedError(f"cannot write {self.path} ({_short(e)})") from None
        cw, ch = self.size
        if self.rotation in (90, 270):
            cw, ch = ch, cw
        odd = cw % 2 or ch % 2
        vs = self._out.add_stream("libx264", rate=self.rate)
        vs.width, vs.height = cw, ch
        vs.pix_fmt = "yuv444p" if odd else "yuv420p"
        vs.time_base = self.time_base
        vs.codec_context.time_base = self.time_base
        vs.options = {"crf": str(self.crf), "preset": self.preset}
        vs.thread_type = "AUTO"
        if self.threads:
            vs.codec_context.thread_count = self.threads
        if self.rotation:
            vs.set_display_rotation(self.rotation)
        self._vs = vs
        self._audio = _AudioCopier(self.audio_from, self._out) if self.audio_from else None

    # -- writing -----------------------------------------------------------------------------
    def write(self, image: np.ndarray, pts: int | None = None, *,
              source_yuv: np.ndarray | None = None,
              changed: tuple[int, int, int, int] | None = None) -> None:
        """Encode one frame.

        Args:
            image: (H, W, 3) uint8 RGB in display orientation, H, W = the output size.
            pts: presentation timestamp in the output time base (the source frame's
                ``Frame.pts`` when re-encoding a source); None = evenly spaced at the rate.
            source_yuv: the source frame's decoded 4:2:0 planes (``Frame.yuv``): pixels
                outside ``changed`` are encoded from them exactly, with no colour
                conversion.
            changed: (x0, y0, x1, y1) box where ``image`` differs from the source; None =
                nothing changed (with ``source_yuv``) or everything (without).
        """
        if self._out is None:
            self.open()
        w, h = self.size
        if image.dtype != np.uint8 or image.shape != (h, w, 3):
            raise NedError(f"frame must be ({h}, {w}, 3) uint8, got {image.shape} {image.dtype}")
        if pts is None:
            pts = round(self._count / (self.rate * self.time_base))
        pts = max(int(pts), self._last_pts + 1)
        if source_yuv is not None and self._vs.pix_fmt == "yuv420p" and not self.rotation:
            frame = av.VideoFrame.from_ndarray(_merge_yuv(source_yuv, image, changed),
                                               format="yuv420p")
        else:
            stored = _to_display(image, (360 - self.rotation) % 360) if self.rotation else image
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(stored), format="rgb24")
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
            if self._audio is not None:
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


def _merge_yuv(source: np.ndarray, image: np.ndarray,
               box: tuple[int, int, int, int] | None) -> np.ndarray:
    """Source 4:2:0 planes with the box (grown to even bounds) taken from ``image``."""
    if box is None:
        return source
    h, w = image.shape[:2]
    # chroma is shared by 2x2 pixels and PyAV packs each chroma plane in rows of the
    # full width, so the box spans whole chroma pixels and a multiple of 4 rows
    x0, y0 = max(0, box[0]) & ~1, max(0, box[1]) & ~3
    x1, y1 = min(w, (box[2] + 1) & ~1), min(h, (box[3] + 3) & ~3)
    if x1 <= x0 or y1 <= y0:
        return source
    # OpenCV's BT.601 limited-range conversion: swscale's to rounding (a few pixels differ
    # by 1-4 levels) and 20x faster on odd box sizes (0.05 vs 0.9 ms for a 280x310 box)
    sub = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2YUV_I420)
    bh, bw = y1 - y0, x1 - x0
    out = source.copy()
    out[y0:y1, x0:x1] = sub[:bh]
    u, v = sub[bh:bh + bh // 4].reshape(bh // 2, bw // 2), sub[bh + bh // 4:].reshape(bh // 2,
                                                                                     bw // 2)
    uo = out[h:h + h // 4].reshape(h // 2, w // 2)
    vo = out[h + h // 4:].reshape(h // 2, w // 2)
    uo[y0 // 2:y1 // 2, x0 // 2:x1 // 2] = u
    vo[y0 // 2:y1 // 2, x0 // 2:x1 // 2] = v
    return out


def _format_for(path: Path) -> str | None:
    return {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}.get(
        path.suffix.lower())


class _AudioCopier:
    """Copies a source's first audio stream into an output, packet for packet, streamed."""

    def __init__(self, source: str | os.PathLike, out: av.container.OutputContainer) -> None:
        self._in = _open(source)
        self._stream = None
        self._packets: Iterator[av.Packet] | None = None
        self._pending: av.Packet | None = None
        if self._in.streams.audio:
            src = self._in.streams.audio[0]
            self._stream = out.add_stream_from_template(src)
            self._src = src
            self._packets = self._in.demux(src)
        self._out = out

    def copy_until(self, seconds: float) -> None:
        """Mux the source's audio packets whose time is before ``seconds``."""
        if self._packets is None:
            return
        while True:
            pkt = self._pending or next(self._packets, None)
            self._pending = None
            if pkt is None:
                self._packets = None
                return
            if pkt.dts is None and pkt.pts is None:
                continue  # the demuxer's final flush packet
            t = float((pkt.dts if pkt.dts is not None else pkt.pts) * self._src.time_base)
            if t > seconds:
                self._pending = pkt
                return
            pkt.stream = self._stream
            self._out.mux(pkt)

    def close(self) -> None:
        self._in.close()
