"""ned.io: streamed video reading and writing."""

from ned.io.video import Frame, VideoInfo, VideoWriter, prefetch, probe, read_frames

__all__ = ["Frame", "VideoInfo", "VideoWriter", "prefetch", "probe", "read_frames"]
