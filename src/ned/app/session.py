"""What the web app does, without the web: one clip and face at a time.

The page's choices (an emotion and intensity over a time range, extra segments in the
short form, the controls, and what an imported timeline file holds) become one
:class:`ned.editing.timeline.Timeline`; previews, renders and exported files all use that
timeline, so ``ned edit clip --timeline exported.json`` replays a session in batch (the
same frames: bit-identical at ``--crf 0``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ned.editing.controls import NAMES
from ned.editing.timeline import Segment, Timeline, parse_segments
from ned.errors import NedError


@dataclass(frozen=True)
class Choices:
    """What the page is set to.

    Attributes:
        emotion: the emotion (None: none).
        intensity: its intensity.
        start, end: its time range in seconds (None: the clip's start / end).
        segments: more segments in the short form (``"2.5-4:sad@0.6"``).
        controls: control name -> value, for the whole clip.
        imported: a timeline file's content, kept whole (its segments and keyframes).
    """

    emotion: str | None = None
    intensity: float = 1.0
    start: float | None = None
    end: float | None = None
    segments: str = ""
    controls: dict = field(default_factory=dict)
    imported: Timeline | None = None

    def timeline(self) -> Timeline | None:
        """The timeline these choices make (None: nothing to edit)."""
        segs = list(self.imported.segments) if self.imported else []
        keys = tuple(self.imported.keyframes) if self.imported else ()
        if self.segments.strip():
            segs += list(parse_segments(self.segments).segments)
        if self.emotion and self.emotion != "none":
            start = self.start or 0.0
            end = self.end if self.end is not None and self.end > start else None
            segs.append(Segment(start, end, self.emotion, float(self.intensity)))
        controls = tuple((k, float(v)) for k, v in self.controls.items() if v)
        if not segs and not keys and not controls:
            return None
        return Timeline(tuple(segs), keys, controls)


def command_line(video: str | os.PathLike, timeline_file: str, face_index: int, crf: int,
                 mark: str | None) -> str:
    """The ``ned edit`` command that renders the same edit in batch."""
    parts = ["ned", "edit", str(video), "--timeline", timeline_file, "-o",
             f"{Path(video).stem}_edited.mp4"]
    if face_index:
        parts += ["--face-index", str(face_index)]
    parts += ["--crf", str(crf)]
    if mark:
        parts += ["--mark", repr(mark) if " " in mark else mark]
    return " ".join(parts)


class AppSession:
    """One user's clip, face and outputs.

    Args:
        workdir: folder for this session's outputs (renders, exported timelines, sheets).
    """

    def __init__(self, workdir: str | os.PathLike) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.video: Path | None = None
        self.faces = None
        self.previewer = None
        self.face_index = 0

    # -- clip and face ---------------------------------------------------------------------
    def open(self, video: str | os.PathLike, face_index: int = 0):
        """Open a clip: its faces (:func:`ned.faces.find.find_faces`) and the previewer of
        ``face_index`` (analysed now unless cached). Returns the faces' report."""
        from ned.faces.find import find_faces

        video = Path(video)
        self.faces = find_faces(video)
        if not self.faces.faces:
            raise NedError(f"{video.name} shows no face")
        self.video = video
        self.select_face(face_index)
        return self.faces

    def select_face(self, face_index: int) -> None:
        from ned.editing.preview import Previewer

        if self.video is None:
            raise NedError("open a clip first")
        n = len(self.faces.faces) if self.faces is not None else 1
        if not 0 <= face_index < max(n, 1):
            raise NedError(f"face {face_index} is not there: the clip shows {n} "
                           f"face{'s' if n != 1 else ''} (0 to {n - 1})")
        if self.previewer is not None and self.face_index == face_index:
            return
        if self.previewer is not None:
            self.previewer.close()
        self.previewer = Previewer(self.video, face_index)
        self.previewer.warm()
        self.face_index = face_index

    @property
    def duration(self) -> float:
        return self.previewer.info.duration if self.previewer else 0.0

    @property
    def n_frames(self) -> int:
        return self.previewer.n_frames if self.previewer else 0

    def frame_at(self, seconds: float) -> int:
        """The frame shown at ``seconds``."""
        t = self.previewer.times
        return int(np.clip(np.searchsorted(t, float(seconds) + 1e-6) - 1, 0, len(t) - 1))

    # -- edits -----------------------------------------------------------------------------
    def config(self, timeline: Timeline | None, crf: int = 16):
        from ned.editing.config import EditConfig

        if timeline is None:
            return None
        return EditConfig.build(timeline=timeline, face_index=self.face_index, crf=int(crf))

    def preview(self, timeline: Timeline | None, seconds: float
                ) -> tuple[np.ndarray, np.ndarray, float]:
        """(source, edited, milliseconds) of the frame at ``seconds``; without a timeline
        the source twice."""
        from ned.editing.run import _one_thread

        self._need_clip()
        index = self.frame_at(seconds)
        cfg = self.config(timeline)
        t0 = time.perf_counter()
        with _one_thread():
            if cfg is None:
                src = self.previewer.source(index)
                return src, src, (time.perf_counter() - t0) * 1000
            f = self.previewer.frame(cfg, index)
        return f.source, f.edited, f.seconds * 1000

    def render(self, timeline: Timeline | None, crf: int = 16, mark: str | None = None,
               progress: bool = True) -> Path:
        """Render the whole clip (``ned.edit`` with this timeline); the output's path."""
        import ned

        self._need_clip()
        if timeline is None:
            raise NedError("nothing to render: choose an emotion, a control or a segment")
        out = self.workdir / f"{self.video.stem}_edited.mp4"
        ned.edit(self.video, out, timeline=timeline, face_index=self.face_index, crf=int(crf),
                 mark=mark or None, progress=progress)
        return out

    def export(self, timeline: Timeline | None) -> Path:
        """Write the timeline file (what ``ned edit --timeline`` reads)."""
        if timeline is None:
            raise NedError("nothing to export: choose an emotion, a control or a segment")
        return timeline.save(self.workdir / "timeline.json")

    def timeline_image(self, timeline: Timeline | None, seconds: float | None = None,
                       width: int = 800) -> np.ndarray:
        """(H, width, 3) uint8 RGB: the timeline over the clip: a band per emotion (its
        weight), a line per control, the shot cuts (red) and the current time."""
        import cv2

        self._need_clip()
        pv = self.previewer
        rows = []
        curves = None
        if timeline is not None:
            curves = timeline.evaluate(pv.times, pv.cuts.tolist(), pv.info.duration)
            rows += [(f"{e}@{i:g}", curves.weights[:, k], None)
                     for k, (e, i) in enumerate(curves.targets)]
            rows += [(n, None, curves.controls[:, k]) for k, n in enumerate(NAMES)
                     if curves.controls[:, k].any()]
        band, left = 22, 120
        img = np.full((max(1, len(rows)) * band + 18, width, 3), 250, np.uint8)
        span = width - left - 8
        x = left + (pv.times / max(pv.info.duration, 1e-6) * span).astype(int)
        for r, (name, w, c) in enumerate(rows):
            y0 = r * band
            cv2.putText(img, name[:18], (4, y0 + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                        (40, 40, 40), 1, cv2.LINE_AA)
            if w is not None:
                for k in range(len(x) - 1):
                    shade = int(230 - 150 * w[k])
                    cv2.rectangle(img, (int(x[k]), y0 + 3), (int(x[k + 1]), y0 + band - 3),
                                  (shade, shade, 255), -1)
            else:
                mid = y0 + band // 2
                cv2.line(img, (left, mid), (left + span, mid), (200, 200, 200), 1)
                pts = np.stack([x, mid - (c * (band // 2 - 2)).astype(int)], 1)
                cv2.polylines(img, [pts.astype(np.int32)], False, (30, 110, 30), 1,
                              cv2.LINE_AA)
        h = img.shape[0]
        for c in pv.cuts:
            cv2.line(img, (int(x[c]), 0), (int(x[c]), h - 16), (220, 30, 30), 1)
        for s in range(int(pv.info.duration) + 1):
            xs = left + int(s / max(pv.info.duration, 1e-6) * span)
            cv2.putText(img, f"{s}s", (xs, h - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                        (90, 90, 90), 1, cv2.LINE_AA)
        if seconds is not None:
            xs = left + int(float(seconds) / max(pv.info.duration, 1e-6) * span)
            cv2.line(img, (xs, 0), (xs, h - 16), (20, 20, 20), 1)
        if not rows:
            cv2.putText(img, "no edit chosen", (left, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                        (90, 90, 90), 1, cv2.LINE_AA)
        return img

    def _need_clip(self) -> None:
        if self.previewer is None:
            raise NedError("open a clip first")

    def close(self) -> None:
        if self.previewer is not None:
            self.previewer.close()
            self.previewer = None


def imported_choices(path: str | os.PathLike) -> Choices:
    """The page's choices after importing a timeline file: the file kept whole, its
    constant controls on the sliders."""
    tl = Timeline.load(path)
    kept = replace(tl, controls=()) if tl.segments or tl.keyframes else None
    return Choices(controls=dict(tl.controls), imported=kept)
