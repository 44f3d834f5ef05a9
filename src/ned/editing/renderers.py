"""The edit's frame renderers: the train-free warp (:class:`WarpRenderer`) and, by
:func:`make_renderer`, the neural renderer (:mod:`ned.editing.neural`), both behind the
:class:`~ned.editing.protocol.FrameRenderer` interface."""

from __future__ import annotations

import cv2
import numpy as np

from ned.composite.blend import composite_patch
from ned.composite.occlusion import FrameOccluders, TrackOcclusion, grow_occlusion
from ned.editing.config import DEFAULT_CUES, RenderConfig
from ned.editing.plan import FramePlan
from ned.editing.protocol import FrameRenderer, RenderResult
from ned.mask import face_mask
from ned.render.appearance import AppearanceConfig, MouthBank, shade_creases, widen_eyes
from ned.render.warp import WarpConfig, mesh_triangles, warp_patch
from ned.topology import FACE_OVAL, inter_ocular


class WarpRenderer:
    """The train-free renderer: a piecewise-affine warp of the frame's own pixels
    (:func:`ned.render.warp.warp_patch`) with the appearance cues of ``config.cues``
    (creases, the mouth's interior from the track's most open mouth so far, the eyes:
    :mod:`ned.render.appearance`), blended inside a soft face mask; occluded pixels
    (hands, microphones: what the analysis found, :mod:`ned.analysis.occlusion`) keep the
    source's pixels.

    Args:
        config: mask growth and feather, blend levels, occlusion on or off.
        warp: warp options.
        occlusion: the analysis's occluders of the clip (its rows tapped by
            :meth:`TrackOcclusion.tap`); None, or ``config.occlusion`` False: nothing is
            kept from the source.
    """

    single_thread = True
    #: Everything it reads and writes lies within twice the face's landmark box (the warp's
    #: anchors are at 1.7 times it): the loop may give it a crop of a large frame
    #: (:func:`ned.editing.loop.face_crop_box`) with the plan moved into it.
    face_crop = True
    #: Faces with a larger inter-ocular distance (pixels) are rendered by
    #: :func:`render_scaled` with their mask and creases at :attr:`work_iod` (a 1080p
    #: close-up is about 200 px, the 640x360 sample clip's face 68): None = never.
    #: Measured on the 1080p benchmark clip: 31 against 68 ms a frame, within 0.2 grey
    #: levels of the full-resolution render on average (99th percentile 4) in its box.
    large_iod: float | None = 150.0
    work_iod: float = 80.0

    def __init__(self, config: RenderConfig, warp: WarpConfig | None = None,
                 occlusion: TrackOcclusion | None = None) -> None:
        self.config, self.warp = config, warp
        self.occlusion = occlusion if config.occlusion else None
        cues = set(DEFAULT_CUES if config.cues is None else config.cues)
        self.appearance = AppearanceConfig(creases="creases" in cues,
                                           interior="interior" in cues, eyes="eyes" in cues)
        self.mouth = MouthBank()

    def warm_up(self) -> None:
        """SciPy's Delaunay and the mesh (about 0.2 s), done while a first edit waits for
        the analysis process's first frames anyway."""
        import scipy.spatial  # the warp's ring triangulation

        from ned.render.warp import mesh_triangles

        del scipy
        mesh_triangles()

    def reset(self) -> None:
        """A new stretch of the track (after a cut or a gap): forget the mouth interiors
        seen (the face after a cut may be someone else's)."""
        self.mouth.reset()

    def render(self, image: np.ndarray, plan: FramePlan) -> RenderResult:
        if self.appearance.interior:
            self.mouth.observe(image, plan.src)
        occluder = self.occlusion.at(plan.index) if self.occlusion is not None else None
        return self.draw(image, plan.src, plan.dst, occluder)

    def draw(self, image: np.ndarray, src: np.ndarray, dst: np.ndarray,
             occluder: FrameOccluders | None = None) -> RenderResult:
        """One frame's face moved from ``src`` to ``dst`` ((478, 3) pixels) with this
        renderer's cues and mouth bank, a large face at :attr:`work_iod`
        (:func:`render_scaled`): :meth:`render` without the plan (the calibration renders
        its frames with it)."""
        cfg = self.config
        iod = float(inter_ocular(src))
        if self.large_iod is not None and iod > self.large_iod:
            return render_scaled(image, src, dst, scale=self.work_iod / iod,
                                 grow=cfg.mask_grow, feather=cfg.mask_feather,
                                 levels=cfg.blend_levels, warp=self.warp, occluder=occluder,
                                 appearance=self.appearance, mouth=self.mouth)
        return warp_frame(image, src, dst, grow=cfg.mask_grow, feather=cfg.mask_feather,
                          levels=cfg.blend_levels, warp=self.warp, occluder=occluder,
                          appearance=self.appearance, mouth=self.mouth)

    def close(self) -> None:
        pass


def warp_frame(image: np.ndarray, src: np.ndarray, dst: np.ndarray, *, grow: float,
               feather: float, levels: int, warp: WarpConfig | None = None,
               occluder: FrameOccluders | None = None,
               appearance: AppearanceConfig | None = None,
               mouth: MouthBank | None = None) -> RenderResult:
    """Move one frame's face from geometry ``src`` to ``dst`` and blend it in.

    Everything runs inside the warp's box; the rest of the frame is not touched.

    Args:
        image: (H, W, 3) uint8 frame.
        src: (478, 3) measured landmarks, pixels.
        dst: (478, 3) edited landmarks, pixels.
        grow: face-mask growth in inter-ocular distances.
        feather: mask feather in inter-ocular distances.
        levels: Laplacian pyramid levels.
        warp: warp options.
        occluder: what covers the face in this frame (:class:`FrameOccluders`, or any
            callable ``(image, src, roi) -> (h, w) mask``); occluded pixels (grown by the
            edit's largest displacement) keep the source's pixels.
        appearance: the appearance cues to add (:mod:`ned.render.appearance`); None = none.
        mouth: the track's mouth interiors (used when ``appearance.interior``); None = a
            bank of this frame alone.

    Returns:
        :class:`RenderResult`.
    """
    iod = float(inter_ocular(src))
    patch, roi = warp_patch(image, src, dst, warp, box=_blend_box(src, iod, grow, feather,
                                                                    levels))
    x0, y0, x1, y1 = roi
    if x1 <= x0 or y1 <= y0:
        return RenderResult(image, roi)
    local = src - (x0, y0, 0)
    mask = face_mask(local, (y1 - y0, x1 - x0), dilate=max(1, round(grow * iod)),
                     feather=max(1, round(feather * iod)))
    if appearance is not None and appearance.interior:
        if mouth is None:
            mouth = MouthBank()
            mouth.observe(image, src)
        mouth.fill(patch, image, src, dst, roi)
    if appearance is not None and appearance.eyes:
        widen_eyes(patch, image, src, dst, roi)
    if appearance is not None and appearance.creases:
        patch, _ = shade_creases(patch, src, dst, roi, mask, mesh_triangles(),
                                 appearance.strength)
    found = _keep_occluded(image, src, dst, roi, patch, mask, occluder)
    return RenderResult(composite_patch(image, patch, mask, roi, levels), roi, found)


def _blend_box(src: np.ndarray, iod: float, grow: float, feather: float,
               levels: int) -> tuple[int, int, int, int]:
    """The pixels the blend can use: the mask's support and the pyramid's reach."""
    oval = src[list(FACE_OVAL), :2]
    margin = (grow + 2 * feather) * iod + 2 ** levels + 3
    lo, hi = np.floor(oval.min(0) - margin), np.ceil(oval.max(0) + margin)
    return (*lo.astype(int), *hi.astype(int))


def _keep_occluded(image: np.ndarray, src: np.ndarray, dst: np.ndarray,
                   roi: tuple[int, int, int, int], patch: np.ndarray, mask: np.ndarray,
                   occluder: FrameOccluders | None) -> bool:
    """Occluded pixels (grown by the edit's reach) take the source's and leave the blend
    mask, in place; whether there were any."""
    if occluder is None:
        return False
    x0, y0, x1, y1 = roi
    reach = int(np.ceil(np.abs(dst[:, :2] - src[:, :2]).max())) + 2
    if hasattr(occluder, "keep"):  # drawn and grown at the face's scale
        kept = occluder.keep(image, src, roi, reach)
    else:
        occ = occluder(image, src, roi)
        kept = (grow_occlusion(occ, reach), (0, 0, x1 - x0, y1 - y0)) if occ.any() else None
    if kept is None:
        return False
    keep, (bx0, by0, bx1, by1) = kept
    np.copyto(mask[by0:by1, bx0:bx1], 0, where=keep)
    cv2.copyTo(image[y0 + by0:y0 + by1, x0 + bx0:x0 + bx1], keep.view(np.uint8),
               patch[by0:by1, bx0:bx1])  # in place (a view): 17x faster than indexing
    return True


def render_scaled(image: np.ndarray, src: np.ndarray, dst: np.ndarray, *, scale: float,
                  grow: float, feather: float, levels: int, warp: WarpConfig | None = None,
                  occluder: FrameOccluders | None = None,
                  appearance: AppearanceConfig | None = None,
                  mouth: MouthBank | None = None) -> RenderResult:
    """:func:`warp_frame` for a large face: the warp, the eyes and the mouth at the frame's
    resolution, the smooth parts at ``scale`` of it, and one alpha blend by the mask
    softened at the pyramid's scale instead of the Laplacian blend
    (:func:`ned.composite.blend.soft_blend`: the same where the mask is smooth, and at 4K
    the pyramid's 16 pixels are a tenth of the oval's feather). The face mask (an oval
    grown and feathered by a tenth of the inter-ocular distance) is drawn on the box
    downscaled and brought up bilinearly; the creases' shading is computed on the warped
    box downscaled and applied at full resolution as a gain (a field blurred at the
    creases' own width, so nothing of the face's detail is lost). At 4K (inter-ocular
    distance about 400 px) the mask and the creases were 200 and 150 ms of a frame; the
    Laplacian blend 80 ms, the soft blend 20.

    Args:
        scale: resolution of the mask and the creases, relative to the frame's (< 1).
        (the rest: as :func:`warp_frame`)

    Returns:
        :class:`RenderResult`.
    """
    iod = float(inter_ocular(src))
    patch, roi = warp_patch(image, src, dst, warp, box=_blend_box(src, iod, grow, feather,
                                                                    levels))
    x0, y0, x1, y1 = roi
    if x1 <= x0 or y1 <= y0:
        return RenderResult(image, roi)
    h, w = y1 - y0, x1 - x0
    sw, sh = max(2, round(w * scale)), max(2, round(h * scale))
    fx, fy = sw / w, sh / h

    def small(points: np.ndarray) -> np.ndarray:  # box pixel centres as cv2.resize maps them
        out = np.array(points, np.float64)
        out[:, 0] = (out[:, 0] - x0 + 0.5) * fx - 0.5
        out[:, 1] = (out[:, 1] - y0 + 0.5) * fy - 0.5
        out[:, 2:] *= (fx + fy) / 2
        return out

    src_s, dst_s = small(src), small(dst)
    s = (fx + fy) / 2
    mask_s = face_mask(src_s, (sh, sw), dilate=max(1, round(grow * iod * s)),
                       feather=max(1, round(feather * iod * s)))
    mask = cv2.resize(mask_s, (w, h), interpolation=cv2.INTER_LINEAR)
    if appearance is not None and appearance.interior:
        if mouth is None:
            mouth = MouthBank()
            mouth.observe(image, src)
        mouth.fill(patch, image, src, dst, roi)
    if appearance is not None and appearance.eyes:
        widen_eyes(patch, image, src, dst, roi)
    if appearance is not None and appearance.creases:
        _shade_scaled(patch, src_s, dst_s, mask_s, appearance.strength)
    found = _keep_occluded(image, src, dst, roi, patch, mask, occluder)
    soft = 2.0 ** (levels - 1) if levels > 1 else 0.0  # the pyramid's coarsest reach
    return RenderResult(composite_patch(image, patch, mask, roi, levels, soft=soft), roi,
                        found)


def _shade_scaled(patch: np.ndarray, src_s: np.ndarray, dst_s: np.ndarray,
                  mask_s: np.ndarray, strength: float) -> None:
    """The creases of :func:`ned.render.appearance.shade_creases` computed on the patch
    downscaled to ``mask_s``'s size and applied to ``patch`` (in place) as a gain."""
    sh, sw = mask_s.shape
    h, w = patch.shape[:2]
    low = cv2.resize(patch, (sw, sh), interpolation=cv2.INTER_AREA)
    shaded, _ = shade_creases(low, src_s, dst_s, (0, 0, sw, sh), mask_s, mesh_triangles(),
                              strength)
    if shaded is low:
        return
    gain = ((shaded.astype(np.float32).sum(2) + 1.5) / (low.astype(np.float32).sum(2) + 1.5))
    ys, xs = np.nonzero(np.abs(gain - 1.0) > 1.0 / 512)
    if not len(ys):
        return
    # the part of the patch the changed gain reaches (a pixel of margin for the bilinear)
    gx0, gy0 = max(xs.min() - 1, 0), max(ys.min() - 1, 0)
    gx1, gy1 = min(xs.max() + 2, sw), min(ys.max() + 2, sh)
    bx0, by0 = int(gx0 * w / sw), int(gy0 * h / sh)
    bx1, by1 = min(w, int(np.ceil(gx1 * w / sw))), min(h, int(np.ceil(gy1 * h / sh)))
    # box pixel x -> small (x + 0.5) sw / w - 0.5, as cv2.resize maps it
    m = np.array([[sw / w, 0, (bx0 + 0.5) * sw / w - 0.5],
                  [0, sh / h, (by0 + 0.5) * sh / h - 0.5]])
    up = cv2.warpAffine(gain, m, (bx1 - bx0, by1 - by0),
                        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                        borderMode=cv2.BORDER_REPLICATE)
    box = patch[by0:by1, bx0:bx1]
    box[:] = cv2.multiply(box, cv2.merge([up, up, up]), dtype=cv2.CV_8U)  # rounded, saturated


def make_renderer(config: RenderConfig, occlusion: TrackOcclusion | None = None
                  ) -> FrameRenderer:
    """The renderer ``config`` asks for: the neural renderer of ``config.renderer``, else
    the warp (keeping ``occlusion``'s occluded pixels from the source)."""
    if config.renderer is not None:
        from ned.editing.neural import NeuralFrameRenderer

        return NeuralFrameRenderer(config.renderer, levels=config.blend_levels)
    return WarpRenderer(config, occlusion=occlusion)
