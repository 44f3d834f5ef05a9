"""ned.composite: put a rendered face back into its frame (multi-band blending)."""

from ned.composite.blend import composite, laplacian_blend

__all__ = ["composite", "laplacian_blend"]
