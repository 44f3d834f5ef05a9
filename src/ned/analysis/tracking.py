"""Keep one face across a clip: choose it once, then follow it by position."""

from __future__ import annotations

import numpy as np

from ned.analysis.landmarker import Detection


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _box(d: Detection) -> np.ndarray:
    lo, hi = d.landmarks[:, :2].min(0), d.landmarks[:, :2].max(0)
    return np.array([lo[0], lo[1], hi[0], hi[1]], np.float64)


class FaceSelector:
    """Selects the tracked face in each frame.

    The first frame with a confident face picks the ``face_index``-th largest face. Later
    frames take the detection that overlaps the last known box best; a face elsewhere
    (a second person entering) is never taken over. After a loss the search area grows
    slowly with the number of frames lost.

    Args:
        face_index: 0 = largest face, 1 = second largest, ...
        min_confidence: fraction of landmarks inside the frame needed to start a track.
        min_size: smallest face (box side, pixels) accepted.
    """

    def __init__(self, face_index: int = 0, min_confidence: float = 0.9,
                 min_size: float = 12.0) -> None:
        self.face_index, self.min_confidence, self.min_size = face_index, min_confidence, min_size
        self.box: np.ndarray | None = None
        self.lost = 0

    def reset(self) -> None:
        """Forget the track (the next confident frame starts a new one)."""
        self.box, self.lost = None, 0

    def select(self, detections: list[Detection]) -> Detection | None:
        """The tracked face among this frame's detections, or None."""
        dets = [d for d in detections if min(np.ptp(d.landmarks[:, 0]),
                                             np.ptp(d.landmarks[:, 1])) >= self.min_size]
        if self.box is None:
            dets = [d for d in dets if d.confidence >= self.min_confidence]
            if len(dets) <= self.face_index:
                return None
            chosen = sorted(dets, key=lambda d: -d.area)[self.face_index]
        else:
            chosen = self._follow(dets)
        if chosen is None:
            self.lost += 1
            return None
        self.box, self.lost = _box(chosen), 0
        return chosen

    def _follow(self, dets: list[Detection]) -> Detection | None:
        best, best_score = None, 0.0
        size = max(self.box[2] - self.box[0], self.box[3] - self.box[1])
        reach = size * (0.5 + 0.05 * min(self.lost, 30))
        centre = (self.box[:2] + self.box[2:]) / 2
        for d in dets:
            b = _box(d)
            iou = box_iou(self.box, b)
            near = np.linalg.norm((b[:2] + b[2:]) / 2 - centre) <= reach
            score = iou + (0.01 if near else 0.0)
            if (iou >= 0.2 or near) and score > best_score:
                best, best_score = d, score
        return best
