"""The interface between the edit loop and its renderers.

The loop (:func:`ned.editing.loop.render_clip`) knows only :class:`FrameRenderer`: it calls
:meth:`~FrameRenderer.warm_up` once before the first frame, :meth:`~FrameRenderer.reset`
at a shot cut and wherever the previous frame was not rendered (a new run of face frames),
:meth:`~FrameRenderer.render` for every edited frame and :meth:`~FrameRenderer.close` at
the end. A new renderer is a class with these methods, returned by
:func:`ned.editing.renderers.make_renderer` for the options that ask for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ned.editing.plan import FramePlan

#: A pixel box (x0, y0, x1, y1), x1 and y1 exclusive.
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class RenderResult:
    """One rendered frame.

    Attributes:
        image: (H, W, 3) uint8 frame, equal to the source outside ``roi``.
        roi: the box where anything may have changed (x1 <= x0 or y1 <= y0: nothing).
        occluded: part of the face was covered and kept from the source.
    """

    image: np.ndarray
    roi: Box
    occluded: bool = False


class FrameRenderer(Protocol):
    """Renders the edited face into one frame at a time (see the module docstring).

    Attributes:
        single_thread: the renderer's work is small per call: the edit then runs BLAS and
            OpenCV on one thread (leaving the other core to the analysis process).
    """

    single_thread: bool

    def warm_up(self) -> None:
        """Load what the first frame would (called once, before the first frame)."""

    def reset(self) -> None:
        """Forget per-run state: called at a shot cut or after frames not rendered."""

    def render(self, image: np.ndarray, plan: FramePlan) -> RenderResult:
        """Move the face of ``image`` from ``plan.src`` to ``plan.dst`` and blend it in.

        Args:
            image: (H, W, 3) uint8 frame.
            plan: the frame's plan (``plan.src`` and ``plan.dst`` are (478, 3) pixels).
        """

    def close(self) -> None:
        """Release what the renderer holds."""
