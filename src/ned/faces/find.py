"""The faces of a clip, numbered as ``--face-index`` numbers them.

The landmarker looks at frames sampled every ``every`` seconds (shot cuts are found on
every frame); one :class:`ned.analysis.tracking.FaceSelector` per index follows the face
the analysis would track for that index (the index-th largest confident face of the first
frame showing that many, then followed by position, and by appearance after a cut). Each
face found is reported with the first and last sampled times it is seen, its size and a
thumbnail; :func:`contact_sheet` lays the thumbnails out as one image.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ned.errors import NedError


@dataclass
class FoundFace:
    """One face of the clip.

    Attributes:
        index: its ``--face-index``.
        first, last: seconds (from the clip's first frame) of the first and last sampled
            frames it is tracked in.
        samples: sampled frames it is tracked in.
        size: median side of its landmarks' box, pixels.
        thumbnail: (S, S, 3) uint8 RGB crop of the frame where it is largest.
    """

    index: int
    first: float
    last: float
    samples: int
    size: float
    thumbnail: np.ndarray = field(repr=False)


@dataclass
class FacesReport:
    """What :func:`find_faces` found.

    Attributes:
        video: the clip.
        faces: the faces, by index.
        most: the most confident faces one sampled frame shows.
        sampled: frames the landmarker looked at.
        every: seconds between them.
    """

    video: Path
    faces: list[FoundFace]
    most: int
    sampled: int
    every: float

    def lines(self) -> list[str]:
        n = len(self.faces)
        out = [f"{self.video}: {n} face{'s' if n != 1 else ''} (frames sampled every "
               f"{self.every:g} s: {self.sampled})"]
        for f in self.faces:
            out.append(f"face {f.index}: {f.first:.2f}-{f.last:.2f} s, seen in {f.samples} "
                       f"of {self.sampled} samples, {f.size:.0f} px  "
                       f"(ned edit ... --face-index {f.index})")
        return out


def find_faces(video: str | os.PathLike, every: float = 0.2, max_faces: int = 6,
               thumb: int = 128) -> FacesReport:
    """Find the faces of ``video`` as the analysis numbers them.

    Args:
        video: the clip.
        every: seconds between the frames the landmarker looks at (> 0).
        max_faces: the most faces looked for per frame.
        thumb: thumbnail side in pixels.

    Returns:
        :class:`FacesReport`.
    """
    import cv2

    from ned.analysis.landmarker import Landmarker
    from ned.analysis.shots import CutDetector
    from ned.analysis.tracking import FaceSelector
    from ned.io import probe, read_frames

    if not (isinstance(every, (int, float)) and np.isfinite(every) and every > 0):
        raise NedError(f"--every must be a number of seconds > 0, got {every!r}")
    if not isinstance(max_faces, int) or not 1 <= max_faces <= 20:
        raise NedError(f"max faces must be an integer in [1, 20], got {max_faces!r}")
    p = Path(video)
    if p.is_dir():
        raise NedError(f"{p} is a folder, not a video file")
    if not p.is_file():
        raise NedError(f"no such video file: {p}")
    info = probe(p)
    step = max(1, int(round(every * (info.fps or 25))))
    selectors = [FaceSelector(k) for k in range(max_faces)]
    seen: dict[int, list] = {}
    best: dict[int, tuple[float, np.ndarray]] = {}
    most, sampled, cut_since = 0, 0, False
    cuts = CutDetector()
    with Landmarker(max_faces, 0.5, video=False) as lmk:
        for f in read_frames(p):
            cut_since |= cuts(f.image)
            if f.index % step:
                continue
            sampled += 1
            dets = lmk.detect(f.image, f.time)
            most = max(most, sum(d.confidence >= selectors[0].min_confidence for d in dets))
            for k, sel in enumerate(selectors):
                if cut_since:
                    sel.cut()
                chosen = sel.select(dets, f.image)
                if chosen is None:
                    continue
                lo, hi = chosen.landmarks[:, :2].min(0), chosen.landmarks[:, :2].max(0)
                side = float(max(hi - lo))
                seen.setdefault(k, []).append((f.time, side))
                if k not in best or side > best[k][0]:
                    c, half = (lo + hi) / 2, 0.75 * side
                    m = np.array([[thumb / (2 * half), 0, thumb / 2 - c[0] * thumb / (2 * half)],
                                  [0, thumb / (2 * half), thumb / 2 - c[1] * thumb / (2 * half)]])
                    crop = cv2.warpAffine(f.image, m, (thumb, thumb), flags=cv2.INTER_AREA,
                                          borderMode=cv2.BORDER_CONSTANT)
                    best[k] = (side, crop)
            cut_since = False
    if sampled == 0:
        raise NedError(f"{p} has no decodable video frames")
    faces = [FoundFace(k, min(t for t, _ in seen[k]), max(t for t, _ in seen[k]), len(seen[k]),
                       float(np.median([s for _, s in seen[k]])), best[k][1])
             for k in sorted(seen) if k < max(most, 1)]
    return FacesReport(p, faces, most, sampled, float(every))


def contact_sheet(report: FacesReport, columns: int = 4) -> np.ndarray:
    """(H, W, 3) uint8 RGB: each face's thumbnail with its index, times and size."""
    import cv2

    if not report.faces:
        img = np.full((60, 320, 3), 40, np.uint8)
        cv2.putText(img, "no face found", (10, 36), cv2.FONT_HERSHEY_SIMPLEX, 0.7,
                    (255, 255, 255), 1, cv2.LINE_AA)
        return img
    s = report.faces[0].thumbnail.shape[0]
    label = 34
    cols = min(columns, len(report.faces))
    rows = -(-len(report.faces) // cols)
    sheet = np.full((rows * (s + label), cols * s, 3), 30, np.uint8)
    for n, f in enumerate(report.faces):
        y, x = (n // cols) * (s + label), (n % cols) * s
        sheet[y:y + s, x:x + s] = f.thumbnail
        for k, text in enumerate((f"face {f.index}  {f.size:.0f} px",
                                  f"{f.first:.1f}-{f.last:.1f} s")):
            cv2.putText(sheet, text, (x + 4, y + s + 13 + 15 * k), cv2.FONT_HERSHEY_SIMPLEX,
                        0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return sheet


def write_sheet(report: FacesReport, path: str | os.PathLike) -> Path:
    """Write :func:`contact_sheet` as a PNG (atomically)."""
    import cv2

    from ned.atomic import atomic_write, check_output

    out = check_output(path, inputs=(report.video,), suffixes=(".png",), what="sheet")
    ok, data = cv2.imencode(".png", cv2.cvtColor(contact_sheet(report), cv2.COLOR_RGB2BGR))
    if not ok:
        raise NedError(f"cannot encode {out}")
    with atomic_write(out) as tmp:
        Path(tmp).write_bytes(data.tobytes())
    return out
