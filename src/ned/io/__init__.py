"""ned.io: streamed video reading and writing."""

from ned.io.video import Frame, VideoInfo, VideoWriter, probe, read_frames

__all__ = ["Frame", "VideoInfo", "VideoWriter", "probe", "read_frames"]
