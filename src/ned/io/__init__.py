"""ned.io: streamed video reading and writing."""

from ned.io.video import Frame, VideoInfo, VideoWriter, WriteBehind, prefetch, probe, read_frames

__all__ = ["Frame", "VideoInfo", "VideoWriter", "WriteBehind", "prefetch", "probe", "read_frames"]
