"""``ned edit --renderer``: the paper's neural renderer in the streamed edit.

Per frame: align the face to the renderer's crop (from the measured landmarks, so the
crop does not move with the edit), draw the conditioning images of the edited geometry,
warp the frame's own crop to the edited geometry (the renderer's warp input), render, put
the crop back and blend it in with the colours matched to the source face.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from ned.align import alignment_matrices, transform_points, warp_from_crop, warp_to_crop
from ned.composite.blend import composite_patch
from ned.editing.plan import FramePlan
from ned.editing.protocol import RenderResult
from ned.errors import NedError
from ned.mask import face_mask
from ned.render.warp import WarpConfig, anchor_points, warp_face


def match_colours(rendered: np.ndarray, source: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Match the rendered face's per-channel mean and spread to the source's in ``mask``.

    Args:
        rendered: (h, w, 3) uint8.
        source: (h, w, 3) uint8.
        mask: (h, w) bool region to match over.

    Returns:
        (h, w, 3) uint8 colour-corrected render.
    """
    if mask.sum() < 16:
        return rendered
    r = rendered.astype(np.float32)
    s = source.astype(np.float32)
    mr, sr = r[mask].mean(0), r[mask].std(0) + 1e-3
    ms, ss = s[mask].mean(0), s[mask].std(0) + 1e-3
    gain = np.clip(ss / sr, 0.5, 2.0)
    return np.clip((r - mr) * gain + ms, 0, 255).astype(np.uint8)


class NeuralFrameRenderer:
    """A trained :class:`~ned.render.neural.infer.NeuralRenderer` behind the edit's
    :class:`~ned.editing.renderers.FrameRenderer` interface.

    Args:
        path: renderer file written by ``ned train-renderer``.
        levels: Laplacian pyramid levels of the blend.
        erode: face-mask erosion before blending, as a fraction of the crop size.
    """

    single_thread = False  # the network wants torch's threads

    def __init__(self, path: str | os.PathLike, levels: int = 4, erode: float = 0.03) -> None:
        from ned.facemodel.conditions import conditioner
        from ned.render.neural.infer import NeuralRenderer

        if not os.path.isfile(path):
            raise NedError(f"no such renderer file: {path}")
        self.renderer = NeuralRenderer.load(path)
        self.size = self.renderer.size
        self.conditioner = conditioner
        self.levels, self.erode = levels, erode

    def warm_up(self) -> None:
        """Nothing to do: the network is loaded by the constructor."""

    def reset(self) -> None:
        """A new run of face frames (after a gap or a cut): forget the history."""
        self.renderer.reset()

    def close(self) -> None:
        """Nothing held beyond the network."""

    def render(self, image: np.ndarray, plan: FramePlan) -> RenderResult:
        """Render one frame's face with the edited geometry and blend it in.

        Args:
            image: (H, W, 3) uint8 frame.
            plan: ``plan.src`` (478, 3) measured and ``plan.dst`` (478, 3) edited
                landmarks, pixels.

        Returns:
            :class:`RenderResult`: the new frame, equal to ``image`` outside its ``roi``.
        """
        src, dst, s = plan.src, plan.dst, self.size
        m = alignment_matrices(src, s)
        crop = warp_to_crop(image, m, s)
        src_c, dst_c = transform_points(src, m), transform_points(dst, m)
        conditions, mask = self.conditioner(dst_c, s)
        warp = None
        if self.renderer.cfg.use_warp:
            warp = warp_face(crop, src_c, dst_c, WarpConfig(map_step=1))[0]
        rgb, cover = self.renderer.step(conditions, mask, warp=warp)
        h, w = image.shape[:2]
        anchors = anchor_points(src, (h, w), WarpConfig())
        x0, y0 = np.floor(np.maximum(anchors.min(0), 0)).astype(int)
        x1, y1 = np.ceil(np.minimum(anchors.max(0) + 1, [w, h])).astype(int)
        if x1 <= x0 or y1 <= y0:
            return RenderResult(image, (0, 0, 0, 0))
        roi = (int(x0), int(y0), int(x1), int(y1))
        shifted = m.copy()
        shifted[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64)
        patch = warp_from_crop(rgb, shifted, (y1 - y0, x1 - x0))
        k = max(1, int(round(self.erode * s)))
        cover = cv2.erode((cover > 0.5).astype(np.uint8), np.ones((2 * k + 1,) * 2, np.uint8))
        back = warp_from_crop(cover.astype(np.float32), shifted, (y1 - y0, x1 - x0)) > 0.5
        face = face_mask(src - (x0, y0, 0), (y1 - y0, x1 - x0)) > 0.5
        region = image[y0:y1, x0:x1]
        patch = match_colours(patch, region, back & face)
        blend = cv2.GaussianBlur(back.astype(np.float32), (0, 0), max(1.0, k / 2))
        return RenderResult(composite_patch(image, patch, blend, roi, self.levels), roi)
