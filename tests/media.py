"""Odd and damaged media made at test time (tiny: a few frames, small sizes): raw streams
without timestamps, damaged middles, late starts, rotation, several audio tracks, 10-bit,
odd sizes, grey. Every helper writes ``path`` and returns it."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tests.conftest import DATA


def face_frames(n: int = 24, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """The first ``n`` frames of single_face.mp4 (640x360), optionally resized (w, h)."""
    import cv2

    from ned.io import read_frames

    frames = [f.image for f in read_frames(DATA / "single_face.mp4", stop=n)]
    if size is not None:
        frames = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
    return frames


def gradient_frames(n: int = 12, w: int = 64, h: int = 48) -> list[np.ndarray]:
    """Moving colour gradients (every frame differs)."""
    y, x = np.mgrid[0:h, 0:w]
    return [np.dstack([(x * 4 + 10 * i) % 256, (y * 5 + 3 * i) % 256,
                       np.full_like(x, 40 + 8 * i)]).astype(np.uint8) for i in range(n)]


def encode(path: Path, frames: list[np.ndarray], *, fps: int = 25, codec: str = "libx264",
           pix_fmt: str = "yuv420p", fmt: str | None = None, rotation: int = 0,
           pts_offset: float = 0.0, audio: int = 0, options: dict | None = None) -> Path:
    """Encode RGB frames.

    Args:
        path: the file (its extension picks the container unless ``fmt``).
        frames: (H, W, 3) uint8 RGB.
        fps: frame rate.
        codec, pix_fmt, fmt: encoder, its pixel format, muxer.
        rotation: display rotation (degrees) stored in the stream.
        pts_offset: seconds the first frame's timestamp starts at.
        audio: number of audio streams (sine tones, AAC, 44.1 kHz) to add.
        options: encoder options.
    """
    h, w = frames[0].shape[:2]
    tb = Fraction(1, fps * 512)
    with av.open(str(path), "w", format=fmt) as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = w, h, pix_fmt
        if fmt not in ("h264", "hevc"):
            s.codec_context.time_base = s.time_base = tb
        if options:
            s.options = options
        if rotation:
            s.set_display_rotation(rotation)
        tracks = [c.add_stream("aac", rate=44100) for _ in range(audio)]
        for i, img in enumerate(frames):
            fr = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            if fmt not in ("h264", "hevc"):
                fr.pts = int(round(pts_offset / tb)) + i * 512
                fr.time_base = tb
            for p in s.encode(fr):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
        seconds = len(frames) / fps
        for k, a in enumerate(tracks):
            n = int(seconds * 44100)
            t = np.arange(n) / 44100.0
            tone = (0.2 * np.sin(2 * np.pi * (330 + 110 * k) * t)).astype(np.float32)
            for start in range(0, n, 1024):
                chunk = tone[start:start + 1024][None]
                af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                af.sample_rate, af.pts, af.time_base = 44100, start, Fraction(1, 44100)
                for p in a.encode(af):
                    c.mux(p)
            for p in a.encode(None):
                c.mux(p)
    return path


def raw_h264(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    """A raw H.264 elementary stream (no container, no timestamps)."""
    return encode(path, frames, fps=fps, fmt="h264")


def damage_middle(path: Path, src: Path, size: int = 20_000, seed: int = 0) -> Path:
    """A copy of ``src`` with ``size`` random bytes written over its middle."""
    data = bytearray(Path(src).read_bytes())
    mid = len(data) // 2
    size = min(size, len(data) // 4)
    data[mid:mid + size] = np.random.default_rng(seed).integers(0, 256, size, np.uint8).tobytes()
    Path(path).write_bytes(bytes(data))
    return Path(path)


def audio_streams(path: Path) -> list[tuple[str, int]]:
    """(codec, number of packets) of every audio stream of a file."""
    with av.open(str(path)) as c:
        streams = list(c.streams.audio)
        counts = {s.index: 0 for s in streams}
        for p in c.demux(*streams):
            if p.size:
                counts[p.stream.index] += 1
        return [(s.codec_context.codec.canonical_name, counts[s.index]) for s in streams]


def decoded_pts(path: Path) -> list[int]:
    """Presentation timestamps as FFmpeg decodes them (no ned logic)."""
    with av.open(str(path)) as c:
        return [f.pts for f in c.decode(video=0)]


def stream_facts(path: Path) -> tuple[str, str, int]:
    """(codec, pixel format, bits per sample) of a file's video stream as FFmpeg reads it."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        fmt = s.codec_context.pix_fmt
        return s.codec_context.name, fmt, av.VideoFormat(fmt).components[0].bits
