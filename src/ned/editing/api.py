"""``ned.edit``: one call from a clip to the edited clip (re-exported as ``ned.edit``).

This module is light (it imports nothing heavy until called), so ``import ned`` stays
cheap; the work is done by :func:`ned.editing.run.run_edit`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ned.editing.config import EditConfig, EditReport
    from ned.editing.timeline import Timeline

#: The visible mark's text unless told otherwise (``mark=True``, ``ned edit --mark``).
DEFAULT_MARK = "AI-edited (ned)"


def edit(video: str | os.PathLike, output: str | os.PathLike,
         config: EditConfig | None = None, *, emotion: str | None = None,
         reference: str | os.PathLike | None = None, intensity: float | None = None,
         start: float | None = None, end: float | None = None, face_index: int | None = None,
         seed: int | None = None, manipulator: str | os.PathLike | None = None,
         renderer: str | os.PathLike | None = None, gain: float | None = None,
         crf: int | None = None, use_cache: bool | None = None, calibrate: bool | None = None,
         cues: tuple[str, ...] | None = None,
         adjust: Mapping[str, float] | None = None,
         timeline: Timeline | str | os.PathLike | dict | None = None,
         preview: str | os.PathLike | None = None, progress: bool = False,
         mark: str | bool | None = None) -> EditReport:
    """Change the emotion of the tracked face of ``video`` and write ``output``.

    The analysis runs in a background process (or is read from the cache) while this
    process renders the frames already analysed: one streamed pass.

    Give either ``config`` (every option, :class:`EditConfig`) or the keyword options
    (None = the default); both together must agree: an option given as a keyword that
    differs from ``config`` is an error (use ``config.replace(...)`` to change one).

    Args:
        video: input clip.
        output: edited clip to write (never the input; written atomically); its extension
            picks the container: .mp4, .m4v, .mov, .mkv, .avi or .webm.
        config: all options (see :class:`EditConfig`).
        emotion: target emotion, one of neutral, angry, disgusted, fear, happy, sad,
            surprised; or
        reference: a clip whose expression style to transfer.
        intensity: strength in [0, 1.5] (default 1).
        start, end: seconds to edit, counted from the clip's first frame as players show
            them (smooth ramps in and out); None = whole clip.
        face_index: which face (0 = largest at the first confident frame; default 0).
        seed: seed of the emotion latent (same seed, same output; default 0).
        manipulator: a manipulator checkpoint (None = shipped default).
        renderer: a neural renderer trained with ``ned train-renderer`` (None = warp).
        gain: factor on the edit's geometric displacement (0 to 3, default 1).
        crf: x264 quality of the output, 0 (lossless) to 51 (default 16, lower for a
            source coded more finely: ``ned.editing.config.source_crf``).
        use_cache: reuse cached analyses (default True).
        calibrate: correct the edit's strength on the clip itself (default True; a closed
            loop on a few frames, cached with the analysis).
        cues: the warp's appearance cues, any of ``creases``, ``interior``, ``eyes``
            (default creases and eyes, and the interior for targets whose posture opens
            the mouth: ``ned.editing.config.default_cues``).
        adjust: expression controls in [-1, 1], name -> value (``smile``, ``frown``,
            ``brow_raise_inner``, ``brow_raise_outer``, ``brow_lower``, ``eyes_wide``,
            ``squint``, ``upper_lip_raise``, ``lip_press``, ``lip_stretch``,
            ``gaze_right``, ``gaze_up``: ``ned.editing.controls``), on top of the emotion
            or alone; the speech keeps its motion.
        timeline: emotions and controls over time instead of ``emotion``: a
            :class:`ned.editing.timeline.Timeline`, a timeline file or its JSON object
            (docs/controls.md).
        preview: also write original | edited side by side here.
        progress: progress bars on stderr.
        mark: draw a visible mark on every frame: True for the default text
            (``AI-edited (ned)``) or the text itself. Every output carries container
            metadata naming ned, its version and the edit either way.

    Returns:
        An :class:`EditReport`.

    Raises:
        NedError: a bad option, a missing or unreadable input, an output that cannot be
            written.

    Warns:
        NedWarning: something was dropped or changed on the way (damaged packets skipped,
            a format the container cannot keep, an unusable or damaged cache).
    """
    from ned.editing.config import EditConfig
    from ned.editing.run import run_edit
    from ned.errors import NedError

    if config is not None and not isinstance(config, EditConfig):
        raise NedError("config must be an EditConfig")

    given = {k: v for k, v in dict(
        emotion=emotion, reference=reference, intensity=intensity, start=start, end=end,
        face_index=face_index, seed=seed, manipulator=manipulator, renderer=renderer,
        gain=gain, crf=crf, use_cache=use_cache, calibrate=calibrate,
        cues=None if cues is None else tuple(cues), adjust=adjust, timeline=timeline).items()
        if v is not None}
    cfg = config.with_overrides(given) if config is not None else EditConfig.build(**given)
    if mark is True:
        mark = DEFAULT_MARK
    elif mark is False:
        mark = None
    elif mark is not None and (not isinstance(mark, str) or not mark.strip()
                               or not mark.isprintable() or not mark.isascii()):
        raise NedError("mark must be a short line of printable ASCII text")
    return run_edit(video, output, cfg, preview=preview, progress=progress, mark=mark)
