"""Paired pixel metrics of a source and an edited clip, accumulated frame by frame.

As in the paper: APD is the mean L2 distance of RGB values (0-255) over all pixels and
frames; FAPD the same over the face mask (the source's face oval); MAPD the same over a
72 x 72 box at the mouth centre, where 72 px are measured in the 256 x 256 aligned face
crop of ``ned.align`` (so the box scales with the face). We add face-region PSNR
and SSIM, and the difference outside the face (outside both clips' face ovals, grown by a
margin) to check that nothing else was touched.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ned import topology
from ned.align import alignment_matrices
from ned.mask import face_mask
from ned.metrics.jsonable import FlatRecord

PSNR_CAP_DB = 100.0
_SSIM_C1, _SSIM_C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


@dataclass(frozen=True)
class PixelConfig:
    """Options of the pixel metrics.

    Attributes:
        mouth_box: MAPD box side in pixels of a ``crop_size`` aligned crop (paper: 72 of 256).
        crop_size: aligned crop side the box is measured in.
        outside_margin: growth of the face ovals before "outside" starts, as a fraction of
            the inter-ocular distance.
        changed_threshold: L2 RGB distance above which an outside pixel counts as changed.
    """

    mouth_box: int = 72
    crop_size: int = 256
    outside_margin: float = 0.5
    changed_threshold: float = 8.0


@dataclass(frozen=True)
class PixelScores(FlatRecord):
    """The pixel metrics of a clip pair (:meth:`PixelAccumulator.result`); None where nothing
    was measured (no face in any frame, no pixel outside the faces).

    Attributes:
        apd: mean L2 distance of RGB values (0-255) over all pixels and frames.
        fapd: the same over the source's face mask.
        mapd: the same over the mouth box (:func:`mouth_box`).
        face_psnr: PSNR (dB, capped at ``PSNR_CAP_DB``) of the face-mask pixels.
        face_ssim: mean SSIM over the face-mask pixels.
        outside_apd: APD farther than the margin from both clips' face ovals.
        outside_changed: fraction of those pixels whose L2 distance exceeds the threshold.
    """

    apd: float | None = None
    fapd: float | None = None
    mapd: float | None = None
    face_psnr: float | None = None
    face_ssim: float | None = None
    outside_apd: float | None = None
    outside_changed: float | None = None


def l2_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel L2 distance of RGB values. a, b: (H, W, 3) uint8. Returns (H, W) float32."""
    d = a.astype(np.float32) - b.astype(np.float32)
    return np.sqrt((d * d).sum(-1))


def mouth_box(points: np.ndarray, shape: tuple[int, int], config: PixelConfig = PixelConfig()
              ) -> tuple[int, int, int, int]:
    """The MAPD box of one frame.

    Args:
        points: (478, 2+) landmarks of the source frame, pixels.
        shape: (H, W) of the frame.

    Returns:
        (x0, y0, x1, y1) integer box clipped to the frame (centre: mean of the outer lip loop;
        side: ``mouth_box`` crop pixels in frame pixels).
    """
    m = alignment_matrices(points, config.crop_size)
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))  # crop px per frame px
    side = config.mouth_box / max(scale, 1e-6)
    cx, cy = np.asarray(points)[list(topology.LIPS_OUTER), :2].mean(0)
    h, w = shape
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    x1, y1 = int(round(cx + side / 2)), int(round(cy + side / 2))
    return max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SSIM map (Gaussian window 11, sigma 1.5) of two (h, w, 3) uint8 images, mean over
    channels. Returns (h, w) float32."""
    x, y = a.astype(np.float32), b.astype(np.float32)

    def blur(z: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(z, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    num = (2 * mx * my + _SSIM_C1) * (2 * sxy + _SSIM_C2)
    den = (mx * mx + my * my + _SSIM_C1) * (sxx + syy + _SSIM_C2)
    return (num / den).mean(-1)


def psnr(mse: float) -> float:
    """PSNR in dB for 8-bit images, capped at ``PSNR_CAP_DB`` (identical images)."""
    if mse <= 0:
        return PSNR_CAP_DB
    return float(min(10 * np.log10(255.0 ** 2 / mse), PSNR_CAP_DB))


class PixelAccumulator:
    """Sums the pixel metrics over frames; :meth:`result` gives the clip's values."""

    def __init__(self, config: PixelConfig = PixelConfig()) -> None:
        self.config = config
        self.sums = {k: 0.0 for k in ("apd", "fapd", "mapd", "sq", "ssim", "out", "changed")}
        self.counts = {k: 0 for k in ("apd", "face", "mapd", "ssim", "out")}
        self.fapd_per_frame: list[float] = []

    def update(self, src: np.ndarray, edt: np.ndarray, src_points: np.ndarray | None,
               edt_points: np.ndarray | None) -> None:
        """Add one frame pair.

        Args:
            src, edt: (H, W, 3) uint8 RGB frames of the same size.
            src_points, edt_points: (478, 2+) landmarks in pixels, or None where that clip
                has no face in this frame (face metrics then skip the frame).
        """
        d = l2_map(src, edt)
        self.sums["apd"] += float(d.sum())
        self.counts["apd"] += d.size
        if src_points is None:
            self.fapd_per_frame.append(float("nan"))
            return
        shape = src.shape[:2]
        mask = face_mask(src_points, shape) > 0.5
        n = int(mask.sum())
        if n:
            self._face(src, edt, d, mask)
        self.fapd_per_frame.append(float(d[mask].mean()) if n else float("nan"))
        x0, y0, x1, y1 = mouth_box(src_points, shape, self.config)
        if x1 > x0 and y1 > y0:
            self.sums["mapd"] += float(d[y0:y1, x0:x1].sum())
            self.counts["mapd"] += (x1 - x0) * (y1 - y0)
        if edt_points is not None:
            mask = mask | (face_mask(edt_points, shape) > 0.5)
        self._outside(d, mask, float(topology.inter_ocular(src_points)))

    def _face(self, src: np.ndarray, edt: np.ndarray, d: np.ndarray, mask: np.ndarray) -> None:
        diff = src[mask].astype(np.float32) - edt[mask].astype(np.float32)
        self.sums["fapd"] += float(d[mask].sum())
        self.sums["sq"] += float((diff * diff).mean(-1).sum())
        self.counts["face"] += int(mask.sum())
        ys, xs = np.nonzero(mask)
        y0, y1, x0, x1 = max(ys.min() - 5, 0), ys.max() + 6, max(xs.min() - 5, 0), xs.max() + 6
        s = ssim_map(src[y0:y1, x0:x1], edt[y0:y1, x0:x1])
        m = mask[y0:y1, x0:x1]
        self.sums["ssim"] += float(s[m].sum())
        self.counts["ssim"] += int(m.sum())

    def _outside(self, d: np.ndarray, faces: np.ndarray, iod: float) -> None:
        """Accumulate the difference farther than the margin from the face ovals."""
        dist = cv2.distanceTransform((~faces).astype(np.uint8), cv2.DIST_L2, 3)
        out = d[dist > self.config.outside_margin * iod]
        self.sums["out"] += float(out.sum())
        self.sums["changed"] += float((out > self.config.changed_threshold).sum())
        self.counts["out"] += out.size

    def result(self) -> PixelScores:
        """The clip's metrics so far (see :class:`PixelScores`; RGB L2 on the 0-255 scale,
        PSNR in dB, outside_changed a fraction). None where nothing was measured."""
        s, c = self.sums, self.counts

        def mean(k: str, n: str) -> float | None:
            return s[k] / c[n] if c[n] else None

        return PixelScores(apd=mean("apd", "apd"), fapd=mean("fapd", "face"),
                           mapd=mean("mapd", "mapd"),
                           face_psnr=psnr(s["sq"] / c["face"]) if c["face"] else None,
                           face_ssim=mean("ssim", "ssim"), outside_apd=mean("out", "out"),
                           outside_changed=mean("changed", "out"))
