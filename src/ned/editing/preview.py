"""Any single frame of an edit at once, from the clip's cached analysis (``ned app``).

:class:`Previewer` holds a clip's analysis rows, its decoded frames and its fitted face
model; :meth:`Previewer.frame` plans one frame of an edit (the same planner as
:func:`ned.edit`: emotion parts, controls, timeline, guards, fold-free step; the
calibrations read from the cache, or run once per emotion) and renders it with the warp.
What a single frame cannot show the same as the full render: occluders (hands are not
kept from the source here) and the mouth interior's exemplar (the track's most open mouth
so far: here only the frame itself).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ned.editing.config import EditConfig
from ned.editing.plan import EditPlanner, FramePlan
from ned.errors import NedError

#: Decoded frames kept as raw pixels up to this many bytes (more: JPEG, quality 95).
RAW_BUDGET = 1 << 30


@dataclass(frozen=True)
class PreviewFrame:
    """One previewed frame.

    Attributes:
        index: frame index.
        time: seconds from the clip's first frame.
        source: (H, W, 3) uint8 RGB source frame.
        edited: (H, W, 3) uint8 RGB edited frame.
        plan: its plan.
        seconds: how long planning and rendering it took (the frame's latency).
    """

    index: int
    time: float
    source: np.ndarray
    edited: np.ndarray
    plan: FramePlan
    seconds: float


class Previewer:
    """Single frames of edits of one clip and one face.

    Args:
        video: the clip (analysed now unless the cache holds it: the same cache entry as
            ``ned edit`` of this face).
        face_index: which face.
        progress: a progress bar while analysing.
    """

    def __init__(self, video: str | os.PathLike, face_index: int = 0,
                 progress: bool = False) -> None:
        from ned.analysis.cache import cached_analysis
        from ned.analysis.stream import record_chunks
        from ned.atomic import temp_dir
        from ned.editing.run import edit_analysis
        from ned.io import probe
        from ned.records import FaceTrack, load_fields

        self.video = Path(video)
        if not self.video.is_file():
            raise NedError(f"no such video file: {self.video}")
        self.info = probe(self.video)
        self.face_index = face_index
        self._stack = ExitStack()
        work = self._stack.enter_context(temp_dir("preview"))
        probe_cfg = EditConfig.build(adjust={"smile": 0.5}, face_index=face_index)
        self.track = cached_analysis(self.video, edit_analysis(probe_cfg), work,
                                     progress=progress)
        self.chunks = list(record_chunks(self.track))
        small = load_fields(self.track, ("timestamps", "cuts", "valid"), kind=FaceTrack.KIND)
        self.times = np.asarray(small["timestamps"], np.float64)
        self.cuts = np.asarray(small["cuts"], int)
        self.valid = np.asarray(small["valid"], bool)
        self.work = work
        self._frames = _FrameStore(self.video, self.info)
        self._fit = None
        self._planners: dict[EditConfig, EditPlanner] = {}

    @property
    def n_frames(self) -> int:
        return len(self.times)

    def source(self, index: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB source frame ``index``."""
        self._check(index)
        return self._frames.get(index)

    def _check(self, index: int) -> None:
        if not isinstance(index, (int, np.integer)) or not 0 <= index < self.n_frames:
            raise NedError(f"frame {index} is outside the clip (0 to {self.n_frames - 1})")

    def planner(self, config: EditConfig) -> EditPlanner:
        """The clip's planner for ``config``: every row pushed, the model fitted (once
        per clip) and calibrated (cached per emotion). Kept for the last few configs."""
        from ned.editing.run import make_planner, timeline_curves

        if config.face_index != self.face_index:
            raise NedError(f"this preview is of face {self.face_index}, not "
                           f"{config.face_index}")
        if config in self._planners:
            return self._planners[config]
        curves = (timeline_curves(config, self.track, self.info)
                  if config.target.timeline is not None else None)
        p = make_planner(config, (self.info.width, self.info.height), self.info.fps,
                         self.work, video=self.video, curves=curves)
        for c in self.chunks:
            p._rows.push(c)
            if p._first_valid is None and c.valid.any():
                p._first_valid = c.start + int(np.argmax(c.valid))
        if p._first_valid is None:
            raise NedError(f"{self.video} shows no face to edit")
        if self._fit is None:
            p._try_fit(final=True)
            self._fit = (p.fit, p.solver)
        else:
            p.fit, p.solver = self._fit
            p._prepare()
        if len(self._planners) >= 8:
            self._planners.pop(next(iter(self._planners)))
        self._planners[config] = p
        return p

    def warm(self) -> None:
        """Fit the face model now (about a second), so the first preview is quick."""
        if self._fit is None:
            self.planner(EditConfig.build(adjust={"smile": 0.5}, face_index=self.face_index))

    def plan(self, config: EditConfig, index: int) -> FramePlan:
        """Frame ``index``'s plan under ``config``."""
        self._check(index)
        p = self.planner(config)
        return next(iter(p._plan_block(int(index), int(index) + 1, final=True)))

    def frame(self, config: EditConfig, index: int) -> PreviewFrame:
        """Frame ``index`` edited as ``config`` says (see the module docstring)."""
        from ned.editing.renderers import make_renderer

        self._check(index)
        t0 = time.perf_counter()
        image = self._frames.get(int(index))
        plan = self.plan(config, index)
        edited = image
        if plan.passed is None and plan.src is not None:
            renderer = make_renderer(config.resolved_render)
            if config.target.gaze:
                from ned.editing.gaze import GazeRenderer

                renderer = GazeRenderer(renderer)
            edited = renderer.render(image, plan).image
        return PreviewFrame(int(index), float(self.times[index]), image, edited, plan,
                            time.perf_counter() - t0)

    def close(self) -> None:
        self._planners.clear()
        self._stack.close()

    def __enter__(self) -> Previewer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _FrameStore:
    """A clip's decoded frames, raw up to :data:`RAW_BUDGET` bytes, JPEG beyond."""

    def __init__(self, video: Path, info) -> None:
        import cv2

        from ned.io import read_frames

        raw = info.width * info.height * 3 * max(1, info.frame_count) <= RAW_BUDGET
        self._raw = raw
        self._frames: list = []
        for f in read_frames(video):
            if raw:
                self._frames.append(f.image)
            else:
                ok, data = cv2.imencode(".jpg", cv2.cvtColor(f.image, cv2.COLOR_RGB2BGR),
                                        [cv2.IMWRITE_JPEG_QUALITY, 95])
                self._frames.append(data)

    def get(self, index: int) -> np.ndarray:
        import cv2

        if index >= len(self._frames):
            raise NedError(f"frame {index} could not be decoded")
        f = self._frames[index]
        if self._raw:
            return f
        return cv2.cvtColor(cv2.imdecode(f, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self._frames)):
            yield self.get(i)
