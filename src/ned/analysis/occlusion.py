"""Where the tracked face is covered (hands, microphones, hair...), measured by the analysis
beside the landmarks: an appearance check in an aligned crop of the face
(:class:`AppearanceCheck`) and the hand model on a few frames (:mod:`ned.analysis.hands`),
both run by :class:`Occluders` in the analysis process, off the edit's critical path.

The appearance check: the face is cut out in aligned crop space (so it stays put while
the head moves), its colours are matched to a running reference of the same face by a
robust per-channel gain (the median ratio, so a large occluder does not bias it), and
pixels far from the reference seed blobs. A blob then grows (hysteresis) over connected
pixels that are moderately far from the reference or closer to the blob's own colour than
to the face there, and its holes are filled, so a smooth, skin-coloured occluder whose
colour matches the face in places is still covered whole. The previous frame's blob seeds
the next one. The mouth and the eyes change by themselves (speech, blinks) and never seed
a blob. The reference is updated where the face is seen unoccluded.

The reference is kept in a fixed geometry (the first frame's aligned landmarks) and warped
to each frame's landmarks before the comparison (a dense field interpolated from the
landmarks' displacement); each frame is warped back into that geometry to update it. So
the face's own deformations (a smile's raised cheeks, brows, jaw) are explained and not
compared as appearance: after a long smile, a neutral face is compared with the reference
carried to its neutral geometry, not with a smiling one. Each frame is resampled once into
the reference, so the reference does not blur over time. An occluder changes the
appearance whatever the landmarks do (the tracker's landmarks drift under the synthetic
hand by up to 5.7 px of the 96 px crop, 17 px in the frame, which moves the face's
texture, not the hand's).

Per frame the analysis records the appearance check's blobs as a bit mask of the aligned
crop (:func:`pack_mask`; the crop is :func:`ned.align.alignment_matrices` of the frame's
smoothed landmarks at :attr:`OcclusionConfig.size`, so the edit recomputes it from the same
row) and up to :data:`MAX_HANDS` hands' 21 landmarks in frame pixels (NaN where none).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from ned.align import alignment_matrices, transform_points
from ned.analysis.hands import MAX_HANDS, HandConfig, HandTracker
from ned.errors import NedError
from ned.topology import FACE_OVAL, LEFT_EYE, LEFT_EYEBROW, LIPS_OUTER, RIGHT_EYE, RIGHT_EYEBROW


@dataclass(frozen=True)
class OcclusionConfig:
    """Options of the occlusion check.

    Attributes:
        size: side of the aligned crop the check runs in.
        threshold: colour distance (0-255 scale, after gain matching) above which a
            pixel seeds an occluder blob.
        low: distance above which a pixel connected to a seed joins its blob.
        min_area: smallest occluded blob, as a fraction of the crop's face area.
        warmup: valid frames averaged into the first reference.
        update: weight of a new frame in the running reference where the face is seen.
        update_occluded: the same where it is flagged, so lasting changes of the face
            itself are absorbed slowly while a passing occluder is not.
        mouth_margin: pixels (crop scale) around the lips that never seed a blob.
        edge: pixels (crop scale) of the face oval's rim ignored (background, hair).
        grow: pixels (crop scale) by which detected blobs are grown.
        hands: also run the hand model.
        sigma: spread (pixels, crop scale) of each landmark's displacement in the dense
            field that carries the reference to the frame's geometry.
        hand: the hand model's options.
    """

    size: int = 96
    threshold: float = 45.0
    low: float = 25.0
    min_area: float = 0.02
    warmup: int = 3
    update: float = 0.05
    update_occluded: float = 0.005
    mouth_margin: int = 10
    edge: int = 3
    grow: int = 3
    hands: bool = True
    sigma: float = 3.0
    hand: HandConfig = field(default_factory=HandConfig)

    def __post_init__(self) -> None:
        if not 16 <= self.size <= 512 or self.size % 8:
            raise NedError(f"occlusion crop size must be a multiple of 8 in 16..512, got "
                           f"{self.size}")
        if not 0 <= self.low <= self.threshold:
            raise NedError("occlusion thresholds need 0 <= low <= threshold")
        if self.warmup < 1 or min(self.edge, self.grow, self.mouth_margin) < 0:
            raise NedError("occlusion warmup must be >= 1, edge, grow and margin >= 0")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> OcclusionConfig:
        return cls(**{k: HandConfig(**v) if k == "hand" else v for k, v in d.items()})


def pack_mask(mask: np.ndarray) -> np.ndarray:
    """(s, s) {0, 1} mask -> (s * s / 8,) uint8 bits (a row of the record)."""
    return np.packbits(np.asarray(mask, np.uint8).ravel() > 0)


def unpack_mask(bits: np.ndarray, size: int) -> np.ndarray:
    """Inverse of :func:`pack_mask`: (s, s) uint8 in {0, 1}."""
    if bits.shape != (size * size // 8,):
        raise NedError(f"occlusion bits of shape {bits.shape} do not make a {size}px crop")
    return np.unpackbits(bits)[:size * size].reshape(size, size)


def _poly_mask(points: np.ndarray, loops: list[tuple[int, ...]], size: int) -> np.ndarray:
    m = np.zeros((size, size), np.uint8)
    for loop in loops:
        cv2.fillPoly(m, [np.round(points[list(loop), :2]).astype(np.int32)], 255)
    return m


def _channel_norm(x: np.ndarray) -> np.ndarray:
    """(h, w, c) -> (h, w) Euclidean norm over the channels (faster than np.linalg.norm)."""
    return np.sqrt(np.einsum("ijk,ijk->ij", x, x))


def _disk(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """(s, s) uint8 {0,1} mask with its enclosed holes filled."""
    pad = np.pad(mask, 1)
    flood = pad.copy()
    cv2.floodFill(flood, None, (0, 0), 1)
    return (mask | (1 - flood[1:-1, 1:-1])).astype(np.uint8)


class AppearanceCheck:
    """Occluder blobs of one tracked face by its appearance (see the module docstring),
    one frame at a time in time order; :meth:`reset` at cuts and where the face was lost.

    Cost: about 1.5 to 2 ms a frame on the 2-core test machine (96 px crop).
    """

    def __init__(self, config: OcclusionConfig | None = None) -> None:
        self.config = config or OcclusionConfig()
        s = self.config.size
        self._gy, self._gx = np.mgrid[0:s, 0:s].astype(np.float32)
        self.reset()

    def reset(self) -> None:
        self._ref: np.ndarray | None = None
        self._prev: np.ndarray | None = None
        self._base: np.ndarray | None = None
        self._n = 0

    def __call__(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """Occluder blobs of one frame in its aligned crop.

        Args:
            image: (H, W, 3) uint8 RGB frame.
            landmarks: (478, 3) tracked landmarks, pixels of ``image``.

        Returns:
            (s, s) uint8 in {0, 1}, s = ``config.size``, in the crop of
            ``alignment_matrices(landmarks, s)``; updates the reference.
        """
        if image.ndim != 3 or image.shape[2] != 3:
            raise NedError(f"occlusion check needs an (H, W, 3) image, got {image.shape}")
        cfg, s = self.config, self.config.size
        m = alignment_matrices(landmarks, s)
        crop = cv2.warpAffine(image, m, (s, s), flags=cv2.INTER_AREA,
                              borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        pts = transform_points(landmarks, m)[:, :2].astype(np.float32)
        face, seedable = self._regions(pts)
        if self._base is None:
            self._base = pts
        to_base = self._field(self._base, pts - self._base)  # base pixel -> crop offset
        crop_b = self._remap(crop, to_base)
        if self._ref is None or self._n < cfg.warmup or not seedable.any():
            self._ref = crop_b if self._ref is None else (
                (self._ref * self._n + crop_b) / (self._n + 1))
            self._n += 1
            return np.zeros((s, s), np.uint8)
        ref = self._remap(self._ref, self._field(pts, self._base - pts))
        gain = np.median(crop[seedable] / np.maximum(ref[seedable], 1.0), axis=0)
        gain = np.maximum(gain, 1e-3)
        crop = crop / gain
        diff = cv2.GaussianBlur(crop - ref, (5, 5), 0)
        dist = _channel_norm(diff)
        occ = self._blobs(crop, dist, face, seedable)
        rate = np.full((s, s), cfg.update, np.float32)
        if occ.any():
            rate = np.where(self._remap(occ.astype(np.float32), to_base) > 0.01,
                            cfg.update_occluded, cfg.update).astype(np.float32)
        self._ref = self._ref + rate[..., None] * (crop_b / gain - self._ref)
        self._n += 1
        self._prev = occ if occ.any() else None
        return occ

    def _regions(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(face, seedable) bool masks in crop space."""
        cfg, s = self.config, self.config.size
        face = cv2.erode(_poly_mask(pts, [FACE_OVAL], s), _disk(cfg.edge)) > 0
        mouth = cv2.dilate(_poly_mask(pts, [LIPS_OUTER], s), _disk(cfg.mouth_margin))
        eyes = cv2.dilate(_poly_mask(pts, [LEFT_EYE, RIGHT_EYE, LEFT_EYEBROW, RIGHT_EYEBROW], s),
                          _disk(1))
        return face, face & (mouth == 0) & (eyes == 0)

    def _field(self, at: np.ndarray, disp: np.ndarray) -> np.ndarray:
        """(s, s, 2) dense offsets interpolated from ``disp`` given at points ``at`` (crop
        space): a normalised Gaussian splat, fading to 0 away from the landmarks."""
        s = self.config.size
        idx = np.clip(np.round(at).astype(np.int32), 0, s - 1)
        acc = np.zeros((s, s, 3), np.float32)
        np.add.at(acc, (idx[:, 1], idx[:, 0]),
                  np.concatenate([disp, np.ones((len(disp), 1), np.float32)], 1))
        acc = cv2.GaussianBlur(acc, (0, 0), self.config.sigma)
        return acc[..., :2] / (acc[..., 2:] + 1e-3)

    def _remap(self, img: np.ndarray, field: np.ndarray) -> np.ndarray:
        """``img`` sampled at each pixel plus its offset."""
        return cv2.remap(img, self._gx + field[..., 0], self._gy + field[..., 1],
                         cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def _blobs(self, crop: np.ndarray, dist: np.ndarray, face: np.ndarray,
               seedable: np.ndarray) -> np.ndarray:
        cfg = self.config
        seed = ((dist > cfg.threshold) & seedable).astype(np.uint8)
        seed = cv2.morphologyEx(seed, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        if self._prev is not None:
            seed |= (self._prev > 0) & (dist > cfg.low) & seedable
        if not seed.any():
            return np.zeros_like(seed)
        colour = np.median(crop[seed > 0], axis=0)
        near_occ = _channel_norm(cv2.GaussianBlur(crop, (5, 5), 0) - colour)
        grow = face & ((dist > cfg.low) | (near_occ < 0.5 * dist))
        n, labels = cv2.connectedComponents(grow.astype(np.uint8) | seed, connectivity=8)
        keep = np.unique(labels[seed > 0])
        occ = np.isin(labels, keep[keep > 0]).astype(np.uint8)
        occ = cv2.morphologyEx(occ, cv2.MORPH_CLOSE, _disk(2))
        occ = _fill_holes(occ) & face
        occ = self._keep_large(occ.astype(np.uint8), cfg.min_area * max(int(face.sum()), 1))
        return cv2.dilate(occ, _disk(cfg.grow)) if occ.any() else occ

    @staticmethod
    def _keep_large(mask: np.ndarray, min_pixels: float) -> np.ndarray:
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        big = [k for k in range(1, n) if stats[k, cv2.CC_STAT_AREA] >= min_pixels]
        return np.isin(labels, big).astype(np.uint8) if big else np.zeros_like(mask)


@dataclass(frozen=True)
class FrameOcclusion:
    """What covers the face in one frame (a row of the record).

    Attributes:
        index: the frame.
        bits: (s * s / 8,) uint8: the appearance check's blobs in the aligned crop
            (:func:`pack_mask`; all zero where nothing was found or the face was not).
        hands: (MAX_HANDS, 21, 2) float32 hand landmarks, frame pixels, NaN where none.
    """

    index: int
    bits: np.ndarray
    hands: np.ndarray


class Occluders:
    """The analysis's occlusion pass: the appearance check on every face frame and the
    hands on a few (:class:`ned.analysis.hands.HandTracker`, which looks a few frames
    ahead, so results come out up to ``config.hand.idle_every`` frames after their frame
    went in).

    Feed every frame in order with :meth:`push` (``landmarks`` None where the face was not
    found; ``cut`` at a shot cut), then :meth:`flush`; each returns the frames whose
    occlusion is now known, in order. Use as a context manager (the hand model is freed on
    exit).

    Args:
        config: the check's options.
    """

    def __init__(self, config: OcclusionConfig | None = None) -> None:
        self.config = config or OcclusionConfig()
        self._check = AppearanceCheck(self.config)
        self._hands = HandTracker(self.config.hand) if self.config.hands else None
        self._bits: dict[int, np.ndarray] = {}
        self._empty = np.zeros(self.config.size ** 2 // 8, np.uint8)
        self._none = np.full((MAX_HANDS, 21, 2), np.nan, np.float32)

    def __enter__(self) -> Occluders:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._hands is not None:
            self._hands.close()

    @property
    def searched(self) -> int:
        """Frames the hand model ran on so far."""
        return self._hands.searched if self._hands is not None else 0

    def push(self, index: int, image: np.ndarray, landmarks: np.ndarray | None,
             cut: bool = False) -> list[FrameOcclusion]:
        """Add one frame.

        Args:
            index: its number (consecutive from 0).
            image: (H, W, 3) uint8 RGB frame.
            landmarks: (478, 3) smoothed landmarks, pixels of ``image``; None without the
                face.
            cut: a new shot starts here.

        Returns:
            The frames whose occlusion is now known, in order (hands in pixels of
            ``image``).
        """
        if cut or landmarks is None:
            self._check.reset()
        if landmarks is not None:
            bits = pack_mask(self._check(image, landmarks))
            if bits.any():
                self._bits[index] = bits
        if self._hands is None:
            return list(self._finish([(index, [])]))
        return list(self._finish(self._hands.push(index, image, landmarks, cut=cut)))

    def flush(self) -> list[FrameOcclusion]:
        """The frames still held back (call once after the last frame)."""
        if self._hands is None:
            return []
        return list(self._finish(self._hands.flush()))

    def _finish(self, done: list[tuple[int, list[np.ndarray]]]) -> Iterator[FrameOcclusion]:
        for index, hands in done:
            arr = self._none
            if hands:
                arr = self._none.copy()
                for k, h in enumerate(hands[:MAX_HANDS]):
                    arr[k] = h
            yield FrameOcclusion(index, self._bits.pop(index, self._empty), arr)
