"""The floor of an edit: decode every frame of a clip and encode it again, with the
writer settings `ned edit` uses (x264 veryfast, the crf an edit picks for this source:
16, lower for a finely coded one, `ned.editing.config.source_crf`; audio copied).

    python benchmarks/reencode.py IN.mp4 OUT.mp4

Timed as a whole process beside `ned edit IN.mp4 ... --no-cache`, it gives the ratio the
issue's speed point asks for, start-up included on both sides.
"""

from __future__ import annotations

import sys

from ned.editing.config import source_crf
from ned.io import VideoWriter, probe, read_frames


def reencode(src: str, dst: str) -> int:
    """Re-encode ``src`` into ``dst``; returns the number of frames."""
    n = 0
    crf = source_crf(probe(src).bits_per_pixel)
    with VideoWriter(dst, like=src, audio_from=src, crf=crf) as w:
        for f in read_frames(src):
            w.write(f.image, f.pts)
            n += 1
    return n


if __name__ == "__main__":
    reencode(sys.argv[1], sys.argv[2])
