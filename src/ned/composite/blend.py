"""Multi-band (Laplacian-pyramid) blending of a rendered face into its frame."""

from __future__ import annotations

import cv2
import numpy as np

from ned.errors import NedError


def _pyramid(img: np.ndarray, levels: int) -> list[np.ndarray]:
    g = [img]
    for _ in range(levels - 1):
        g.append(cv2.pyrDown(g[-1]))
    return g


def laplacian_blend(background: np.ndarray, foreground: np.ndarray, mask: np.ndarray,
                    levels: int = 4) -> np.ndarray:
    """Blend ``foreground`` into ``background`` where ``mask`` is 1, band by band.

    Each frequency band is mixed with a mask blurred to that band's scale, so seams vanish
    without blurring detail. Where the mask and its blur are 0 the result is the
    background (to rounding).

    Args:
        background: (H, W, 3) uint8.
        foreground: (H, W, 3) uint8.
        mask: (H, W) float32 in [0, 1].
        levels: pyramid levels (>= 1).

    Returns:
        (H, W, 3) uint8.
    """
    if background.shape != foreground.shape or mask.shape != background.shape[:2]:
        raise NedError(f"blend shapes differ: {background.shape}, {foreground.shape}, "
                       f"{mask.shape}")
    if levels < 1:
        raise NedError("levels must be >= 1")
    h, w = mask.shape
    levels = max(1, min(levels, int(np.log2(max(min(h, w), 1))) - 1))
    # Blending is linear: L(fg) m + L(bg) (1 - m) = L(bg) + L(fg - bg) m, and the
    # background's bands collapse to the background, so one pyramid (of the difference)
    # gives the same result as the two.
    # OpenCV arithmetic on 3-channel float images (the mask repeated per channel): the same
    # values as NumPy broadcasting, bit for bit, in less than half the time
    mask = mask.astype(np.float32, copy=False)
    gd = _pyramid(cv2.subtract(foreground, background, dtype=cv2.CV_32F), levels)
    gm = _pyramid(cv2.merge([mask, mask, mask]), levels)
    out = cv2.multiply(gd[-1], gm[-1])
    for i in range(levels - 2, -1, -1):
        size = (gd[i].shape[1], gd[i].shape[0])
        band = cv2.subtract(gd[i], cv2.pyrUp(gd[i + 1], dstsize=size))
        out = cv2.add(cv2.pyrUp(out, dstsize=size), cv2.multiply(band, gm[i]))
    return cv2.add(background, out, dtype=cv2.CV_8U)  # rounded and saturated


def composite(frame: np.ndarray, rendered: np.ndarray, mask: np.ndarray,
              roi: tuple[int, int, int, int], levels: int = 4) -> np.ndarray:
    """Blend a rendered frame into the source inside ``roi`` only.

    Pixels outside ``roi`` are copied from ``frame`` bit for bit; inside, the render is
    blended under ``mask`` with :func:`laplacian_blend`, and pixels where the mask's
    support (grown by the pyramid's reach) is empty are the source's as well.

    Args:
        frame: (H, W, 3) uint8 source frame.
        rendered: (H, W, 3) uint8 frame with the new face (same geometry of the frame).
        mask: (H, W) float32 in [0, 1], where the render is used.
        roi: (x0, y0, x1, y1) box holding everything that may change.
        levels: pyramid levels.

    Returns:
        (H, W, 3) uint8 composited frame.
    """
    x0, y0, x1, y1 = roi
    return composite_patch(frame, rendered[y0:y1, x0:x1], mask[y0:y1, x0:x1], roi, levels)


def composite_patch(frame: np.ndarray, patch: np.ndarray, mask: np.ndarray,
                    roi: tuple[int, int, int, int], levels: int = 4,
                    soft: float = 0.0) -> np.ndarray:
    """:func:`composite` with the render and the mask given for ``roi`` only.

    Args:
        frame: (H, W, 3) uint8 source frame.
        patch: (y1 - y0, x1 - x0, 3) uint8 rendered pixels of ``roi``.
        mask: (y1 - y0, x1 - x0) float32 blend mask of ``roi``.
        roi: (x0, y0, x1, y1).
        levels: pyramid levels.
        soft: 0: the Laplacian blend; else :func:`soft_blend` with the mask blurred by
            this many pixels (a large face, whose mask is smooth at the pyramid's scale).

    Returns:
        (H, W, 3) uint8 new frame.
    """
    x0, y0, x1, y1 = roi
    out = frame.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    src = frame[y0:y1, x0:x1]
    if soft > 0:
        out[y0:y1, x0:x1] = soft_blend(src, patch, mask, soft)
        return out
    sub = laplacian_blend(src, patch, mask, levels)
    reach = cv2.dilate((mask > 1e-3).astype(np.uint8),
                       np.ones((2 ** levels + 1, 2 ** levels + 1), np.uint8))
    cv2.copyTo(sub, reach, out[y0:y1, x0:x1])  # in place: the box of ``out`` is a view
    return out


def soft_blend(background: np.ndarray, foreground: np.ndarray, mask: np.ndarray,
               sigma: float) -> np.ndarray:
    """``foreground`` over ``background`` by the mask blurred by ``sigma`` pixels (one
    alpha blend). Where the mask is smooth at the scale of a Laplacian pyramid (a face's
    feathered oval several times wider than its coarsest level) it is what
    :func:`laplacian_blend` gives, at a fifth of the cost; the blur softens the mask's
    sharp edges (an occluder cut out of it) over about as far as the pyramid would.

    Args:
        background, foreground: (H, W, 3) uint8.
        mask: (H, W) float32 in [0, 1].
        sigma: the blur, pixels (0: none; from 4 on it is done on a grid sigma / 2 times
            coarser and brought up bilinearly: a fifth of the cost at 1080p).

    Returns:
        (H, W, 3) uint8; the background exactly where the blurred mask is 0.
    """
    if background.shape != foreground.shape or mask.shape != background.shape[:2]:
        raise NedError(f"blend shapes differ: {background.shape}, {foreground.shape}, "
                       f"{mask.shape}")
    m = np.ascontiguousarray(mask, np.float32)
    k = int(sigma // 2)  # blurred on a grid k times coarser: the blur is k pixels wide there
    h, w = m.shape
    if k >= 2 and min(h, w) >= 8 * k:
        small = cv2.resize(m, (w // k, h // k), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), sigma / k)
        m = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    elif sigma > 0:
        m = cv2.GaussianBlur(m, (0, 0), sigma)
    return cv2.blendLinear(np.ascontiguousarray(foreground), np.ascontiguousarray(background),
                           m, 1.0 - m)
