"""The edit's frame renderers: the train-free warp (:class:`WarpRenderer`) and, by
:func:`make_renderer`, the neural renderer (:mod:`ned.editing.neural`), both behind the
:class:`~ned.editing.protocol.FrameRenderer` interface."""

from __future__ import annotations

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
        cfg = self.config
        if self.appearance.interior:
            self.mouth.observe(image, plan.src)
        occluder = self.occlusion.at(plan.index) if self.occlusion is not None else None
        return warp_frame(image, plan.src, plan.dst, grow=cfg.mask_grow,
                          feather=cfg.mask_feather, levels=cfg.blend_levels, warp=self.warp,
                          occluder=occluder, appearance=self.appearance,
                          mouth=self.mouth)

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
    # only pixels the blend can use are warped: the mask's support and the pyramid's reach
    oval = src[list(FACE_OVAL), :2]
    margin = (grow + 2 * feather) * iod + 2 ** levels + 3
    lo, hi = np.floor(oval.min(0) - margin), np.ceil(oval.max(0) + margin)
    patch, roi = warp_patch(image, src, dst, warp, box=(*lo.astype(int), *hi.astype(int)))
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
    found = False
    if occluder is not None:
        reach = int(np.ceil(np.abs(dst[:, :2] - src[:, :2]).max())) + 2
        if hasattr(occluder, "keep"):  # drawn and grown at the face's scale
            kept = occluder.keep(image, src, roi, reach)
        else:
            occ = occluder(image, src, roi)
            kept = (grow_occlusion(occ, reach), (0, 0, x1 - x0, y1 - y0)) if occ.any() else None
        if kept is not None:
            keep, (bx0, by0, bx1, by1) = kept
            found = True
            mask[by0:by1, bx0:bx1][keep] = 0
            patch[by0:by1, bx0:bx1][keep] = image[y0 + by0:y0 + by1, x0 + bx0:x0 + bx1][keep]
    return RenderResult(composite_patch(image, patch, mask, roi, levels), roi, found)


def make_renderer(config: RenderConfig, occlusion: TrackOcclusion | None = None
                  ) -> FrameRenderer:
    """The renderer ``config`` asks for: the neural renderer of ``config.renderer``, else
    the warp (keeping ``occlusion``'s occluded pixels from the source)."""
    if config.renderer is not None:
        from ned.editing.neural import NeuralFrameRenderer

        return NeuralFrameRenderer(config.renderer, levels=config.blend_levels)
    return WarpRenderer(config, occlusion=occlusion)
