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
    (a second person entering) is never taken over. After a shot cut, or a loss longer
    than ``reidentify_after`` frames, the position means nothing: the face whose
    appearance-and-shape signature is closest to the tracked person's (below
    ``max_distance``) is taken, else none.

    Args:
        face_index: 0 = largest face, 1 = second largest, ...
        min_confidence: fraction of landmarks inside the frame needed to start a track.
        min_size: smallest face (box side, pixels) accepted.
        max_distance: largest signature distance accepted as the same person.
        reidentify_after: frames lost after which the person is searched by signature.
    """

    def __init__(self, face_index: int = 0, min_confidence: float = 0.9,
                 min_size: float = 12.0, max_distance: float = 0.45,
                 reidentify_after: int = 15) -> None:
        self.face_index, self.min_confidence, self.min_size = face_index, min_confidence, min_size
        self.max_distance, self.reidentify_after = max_distance, reidentify_after
        self.box: np.ndarray | None = None
        self.signature: tuple[np.ndarray, np.ndarray] | None = None
        self.lost = 0
        self._seen = 0
        #: the most confident faces seen in one frame while looking for the track's start
        #: (tells a ``face_index`` past the clip's faces from a clip without faces).
        self.most_faces = 0

    def reset(self) -> None:
        """Forget the track and the person (the next confident frame starts anew)."""
        self.box, self.signature, self.lost = None, None, 0

    def cut(self) -> None:
        """A new shot starts: search the person by signature, not by position."""
        self.box = None

    def select(self, detections: list[Detection],
               image: np.ndarray | None = None) -> Detection | None:
        """The tracked face among this frame's detections, or None.

        Args:
            detections: this frame's faces.
            image: the frame (H, W, 3) uint8, for the person's signature (None: position
                only).
        """
        dets = [d for d in detections if min(np.ptp(d.landmarks[:, 0]),
                                             np.ptp(d.landmarks[:, 1])) >= self.min_size]
        if self.signature is not None and image is not None and (
                self.box is None or self.lost > self.reidentify_after):
            chosen = self._reidentify(dets, image)
        elif self.box is None:
            dets = [d for d in dets if d.confidence >= self.min_confidence]
            self.most_faces = max(self.most_faces, len(dets))
            chosen = (sorted(dets, key=lambda d: -d.area)[self.face_index]
                      if len(dets) > self.face_index else None)
        else:
            chosen = self._follow(dets)
        if chosen is None:
            self.lost += 1
            return None
        self.box, self.lost = _box(chosen), 0
        if image is not None:
            self._remember(chosen, image)
        return chosen

    def _remember(self, d: Detection, image: np.ndarray) -> None:
        from ned.analysis.shots import face_signature

        self._seen += 1
        if self.signature is None:
            self.signature = face_signature(image, d.landmarks)
        elif self._seen % 10 == 0:
            h, s = face_signature(image, d.landmarks)
            hist = 0.9 * self.signature[0] + 0.1 * h
            self.signature = (hist / max(np.linalg.norm(hist), 1e-9),
                              0.9 * self.signature[1] + 0.1 * s)

    def _reidentify(self, dets: list[Detection], image: np.ndarray) -> Detection | None:
        from ned.analysis.shots import face_signature, signature_distance

        best, best_d = None, self.max_distance
        for d in dets:
            dist = signature_distance(self.signature, face_signature(image, d.landmarks))
            if dist < best_d:
                best, best_d = d, dist
        return best

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
