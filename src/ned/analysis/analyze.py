"""Analyse a clip into a :class:`~ned.records.FaceTrack`, streamed frame by frame."""

from __future__ import annotations

import hashlib
import os
import time
from collections import deque
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ned.analysis.hands import HAND_POINTS, MAX_HANDS
from ned.analysis.landmarker import Detection, Landmarker
from ned.analysis.occlusion import FrameOcclusion, Occluders, OcclusionConfig
from ned.analysis.shots import CutConfig, CutDetector
from ned.analysis.smoothing import OneEuroConfig, OneEuroFilter, orthonormalise
from ned.analysis.tracking import FaceSelector
from ned.atomic import temp_dir
from ned.blendshapes import N_BLENDSHAPES
from ned.errors import NedError
from ned.io.video import prefetch, probe, read_frames
from ned.records import FaceTrack, NpzSpool
from ned.topology import N_LANDMARKS, inter_ocular


@dataclass(frozen=True)
class AnalysisConfig:
    """Options of the analysis stage.

    Attributes:
        face_index: which face to track (0 = largest in the first confident frame).
        max_faces: faces the landmarker looks for per frame.
        min_confidence: landmarker detection / presence / tracking threshold.
        smooth: apply One-Euro smoothing to landmarks, pose and blendshapes.
        landmarks_filter: One-Euro parameters for landmarks, in units of the face's
            inter-ocular distance at the start of the track segment (so one setting fits
            any resolution).
        pose_filter: One-Euro parameters for the 4x4 pose (translation in cm).
        blendshape_filter: One-Euro parameters for blendshape scores.
        detect_cuts: find shot cuts; tracking restarts and nothing is smoothed across one.
        cuts: cut-detection thresholds.
        occlusion: also find what covers the face (:mod:`ned.analysis.occlusion`: the
            appearance check on every face frame, hands on a few), recorded per frame
            (:data:`OCCLUSION_FIELDS`); None: not looked for.
    """

    face_index: int = 0
    max_faces: int = 2
    min_confidence: float = 0.5
    smooth: bool = True
    landmarks_filter: OneEuroConfig = field(
        default_factory=lambda: OneEuroConfig(min_cutoff=1.0, beta=10.0, d_cutoff=1.0))
    pose_filter: OneEuroConfig = field(
        default_factory=lambda: OneEuroConfig(min_cutoff=1.0, beta=0.5, d_cutoff=1.0))
    blendshape_filter: OneEuroConfig = field(
        default_factory=lambda: OneEuroConfig(min_cutoff=8.0, beta=5.0, d_cutoff=1.0))
    detect_cuts: bool = True
    cuts: CutConfig = field(default_factory=CutConfig)
    occlusion: OcclusionConfig | None = None

    def key(self) -> str:
        """A short stable hash of the options (for caches)."""
        return hashlib.sha256(repr(asdict(self)).encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        """The options as plain JSON-able values (see :meth:`from_dict`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> AnalysisConfig:
        """Options from :meth:`to_dict`'s output."""
        nested = {"landmarks_filter": OneEuroConfig, "pose_filter": OneEuroConfig,
                  "blendshape_filter": OneEuroConfig, "cuts": CutConfig}
        out = {k: nested[k](**v) if k in nested else v for k, v in d.items()}
        if out.get("occlusion") is not None:
            out["occlusion"] = OcclusionConfig.from_dict(out["occlusion"])
        return cls(**out)


def file_hash(path: str | os.PathLike) -> str:
    """sha256 of a file's content (hex)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


class _Smoother:
    """Per-track smoothing state; reset whenever the face is lost."""

    def __init__(self, cfg: AnalysisConfig) -> None:
        self.cfg = cfg
        self.lm = OneEuroFilter(cfg.landmarks_filter)
        self.pose = OneEuroFilter(cfg.pose_filter)
        self.bs = OneEuroFilter(cfg.blendshape_filter)
        self.scale: float | None = None

    def reset(self) -> None:
        self.lm.reset(), self.pose.reset(), self.bs.reset()
        self.scale = None

    def __call__(self, d: Detection, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self.cfg.smooth:
            return d.landmarks, d.transform, d.blendshapes
        if self.scale is None:  # one fixed scale per track segment: a varying one adds jitter
            self.scale = max(float(inter_ocular(d.landmarks)), 1e-3)
        s = self.scale
        lm = self.lm(d.landmarks / s, t) * s
        pose = orthonormalise(np.vstack([self.pose(d.transform[:3], t), [0, 0, 0, 1]]))
        bs = np.clip(self.bs(d.blendshapes, t), 0.0, 1.0)
        return lm, pose, bs


#: Frames whose longer side exceeds this many pixels are analysed on a view shrunk by an
#: integer factor to at most it (a 4K frame on a 1920x1080 view; decoded on one thread,
#: one frame ahead): the landmark model sees the face at 256 px whatever the frame's
#: size, its detector the whole frame at 128 px.
VIEW_SIDE = 1920


def view_shrink(width: int, height: int) -> int:
    """The integer factor a ``width`` x ``height`` clip's frames are analysed shrunk by."""
    return max(1, -(-max(width, height) // VIEW_SIDE))


#: What a record's timestamps count from (its ``time_origin`` metadata): the clip's first
#: frame, as players show it (``ned.io.read_frames``' ``Frame.time``). A cache entry
#: without it is analysed again.
TIME_ORIGIN = "first frame"

#: Per-frame fields of a FaceTrack record: name -> (dtype, row shape).
ROW_FIELDS = {"landmarks": (np.float32, (N_LANDMARKS, 3)),
              "landmarks_raw": (np.float32, (N_LANDMARKS, 3)),
              "blendshapes": (np.float32, (N_BLENDSHAPES,)),
              "blendshapes_raw": (np.float32, (N_BLENDSHAPES,)),
              "transforms": (np.float32, (4, 4)), "confidence": (np.float32, ()),
              "valid": (np.bool_, ()), "timestamps": (np.float64, ())}


def occlusion_fields(config: OcclusionConfig) -> dict[str, tuple[type, tuple[int, ...]]]:
    """The per-frame fields a record analysed with ``config`` adds: ``occlusion``, the
    appearance check's blobs as bits of the aligned crop (:func:`ned.analysis.occlusion.
    pack_mask`), and ``hands``, up to four hands' 21 landmarks in frame pixels (NaN where
    none)."""
    return {"occlusion": (np.uint8, (config.size * config.size // 8,)),
            "hands": (np.float32, (MAX_HANDS, HAND_POINTS, 2))}


@dataclass(frozen=True)
class FrameRow:
    """One frame of the analysis, as it is measured (the FaceTrack record's per-frame
    fields, :data:`ROW_FIELDS`, plus ``cut``).

    Attributes:
        landmarks, landmarks_raw: (478, 3) smoothed and raw landmarks, pixels (zeros
            without a face).
        blendshapes, blendshapes_raw: (52,) smoothed and raw blendshapes.
        transforms: (4, 4) face pose (canonical face -> camera).
        confidence: detection score (0 without a face).
        valid: the tracked face was found.
        timestamps: presentation time, seconds.
        cut: a new shot starts at this frame.
        occlusion, hands: what covers the face (:func:`occlusion_fields`), None when the
            analysis does not look for it.
    """

    landmarks: np.ndarray
    landmarks_raw: np.ndarray
    blendshapes: np.ndarray
    blendshapes_raw: np.ndarray
    transforms: np.ndarray
    confidence: float
    valid: bool
    timestamps: float
    cut: bool = False
    occlusion: np.ndarray | None = None
    hands: np.ndarray | None = None

    def fields(self) -> dict[str, object]:
        """The record's per-frame fields (the keys of :data:`ROW_FIELDS`, and the
        occlusion fields where there are)."""
        out = {k: getattr(self, k) for k in ROW_FIELDS}
        if self.occlusion is not None:
            out["occlusion"], out["hands"] = self.occlusion, self.hands
        return out


@dataclass(frozen=True)
class AnalysisSummary:
    """What an analysis found.

    Attributes:
        frames: frames analysed.
        valid: frames with the tracked face.
        fps: the clip's frame rate.
        cuts: shot cuts found.
        hand_searches: frames the hand model ran on.
        cpu: CPU seconds of the analysing process (all its threads).
        waited: seconds it waited on the consumer of its rows (``on_row`` blocking).
    """

    frames: int
    valid: int
    fps: float
    cuts: int
    hand_searches: int = 0
    cpu: float = 0.0
    waited: float = 0.0

    def to_dict(self) -> dict[str, int | float]:
        """Plain JSON-able values (see :meth:`from_dict`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> AnalysisSummary:
        return cls(frames=int(d["frames"]), valid=int(d["valid"]), fps=float(d["fps"]),
                   cuts=int(d["cuts"]), hand_searches=int(d.get("hand_searches", 0)),
                   cpu=float(d.get("cpu", 0.0)), waited=float(d.get("waited", 0.0)))


def analyze_to_file(path: str | os.PathLike, output: str | os.PathLike,
                    config: AnalysisConfig | None = None, progress: bool = False,
                    on_row: Callable[[FrameRow], None] | None = None,
                    on_end: Callable[[], None] | None = None) -> AnalysisSummary:
    """Analyse a clip and write its FaceTrack to ``output`` without holding it in memory.

    Args:
        path: the input video.
        output: the ``.npz`` to write (atomically).
        config: options (defaults if None).
        progress: show a progress bar on stderr.
        on_row: called with every frame's :class:`FrameRow` as it is analysed, in frame
            order; an exception it raises stops the analysis and nothing is written.
        on_end: called once every frame is analysed, before the record is written.

    Returns:
        :class:`AnalysisSummary`.
    """
    cfg = config or AnalysisConfig()
    if cfg.face_index < 0:
        raise NedError(f"face index must be >= 0, got {cfg.face_index}")
    info = probe(path)
    out_dir = Path(output).resolve().parent
    if not out_dir.is_dir() or not os.access(out_dir, os.W_OK):
        raise NedError(f"cannot write to folder {out_dir}")
    cpu0 = time.process_time()
    k = view_shrink(info.width, info.height)  # frame pixels per view pixel
    selector, smoother = FaceSelector(cfg.face_index), _Smoother(cfg)
    empty_lm = np.zeros((N_LANDMARKS, 3), np.float32)
    empty_bs = np.zeros(N_BLENDSHAPES, np.float32)
    fields = dict(ROW_FIELDS)
    if cfg.occlusion is not None:
        fields.update(occlusion_fields(cfg.occlusion))
    waited = 0.0
    with temp_dir("analyze") as work, ExitStack() as stack:
        lmk = stack.enter_context(
            Landmarker(max(cfg.max_faces, cfg.face_index + 1), cfg.min_confidence))
        occluders = (stack.enter_context(Occluders(cfg.occlusion))
                     if cfg.occlusion is not None else None)
        spool = NpzSpool(FaceTrack.KIND, fields, work)
        held: deque[tuple[int, FrameRow]] = deque()  # rows waiting for their occlusion

        def emit(row: FrameRow) -> None:
            nonlocal waited
            spool.append(**row.fields())
            if on_row is not None:
                t = time.perf_counter()
                on_row(row)
                waited += time.perf_counter() - t

        def settle(done: list[FrameOcclusion]) -> None:
            for occ in done:
                index, row = held.popleft()
                if index != occ.index:
                    raise RuntimeError(f"occlusion of frame {occ.index} given for {index}")
                emit(replace(row, occlusion=occ.bits,
                             hands=occ.hands * np.float32(k) if k > 1 else occ.hands))

        n_valid, cuts, cut_detector = 0, [], CutDetector(cfg.cuts)
        from tqdm import tqdm  # here: the background analysis process starts 25 ms sooner

        bar = tqdm(total=info.frame_count, unit="frame", desc="analyse", disable=not progress,
                   leave=False)
        # everything below runs in view pixels; the rows are written in frame pixels
        for frame in prefetch(read_frames(path, shrink=k, threads=1 if k > 1 else 0),
                              depth=1 if k > 1 else 4):
            cut = bool(cfg.detect_cuts and cut_detector(frame.image))
            if cut:
                cuts.append(frame.index)
                selector.cut()
                smoother.reset()
            d = selector.select(lmk.detect(frame.image, frame.time), frame.image)
            if d is None:
                smoother.reset()
                row = FrameRow(landmarks=empty_lm, landmarks_raw=empty_lm,
                               blendshapes=empty_bs, blendshapes_raw=empty_bs,
                               transforms=np.eye(4), confidence=0.0, valid=False,
                               timestamps=frame.time, cut=cut)
            else:
                n_valid += 1
                lm, pose, bs = smoother(d, frame.time)
                row = FrameRow(landmarks=lm, landmarks_raw=d.landmarks, blendshapes=bs,
                               blendshapes_raw=d.blendshapes, transforms=pose,
                               confidence=d.confidence, valid=True, timestamps=frame.time,
                               cut=cut)
            view_lm = row.landmarks
            if k > 1 and row.valid:
                row = replace(row, landmarks=row.landmarks * np.float32(k),
                              landmarks_raw=row.landmarks_raw * np.float32(k))
            if occluders is None:
                emit(row)
            else:
                held.append((frame.index, row))
                settle(occluders.push(frame.index, frame.image,
                                      view_lm if row.valid else None, cut=cut))
            bar.update(1)
        if occluders is not None:
            settle(occluders.flush())
        bar.close()
        if spool.n == 0:
            raise NedError(f"{path} has no decodable video frames")
        if n_valid == 0 and 0 < selector.most_faces <= cfg.face_index:
            k = selector.most_faces
            raise NedError(f"face index {cfg.face_index} is out of range: {path} shows at "
                           f"most {k} face{'s' if k > 1 else ''} at a time (face index "
                           f"{'0' if k == 1 else f'0 to {k - 1}'})")
        if on_end is not None:
            on_end()
        meta = {"width": info.width, "height": info.height, "fps": info.fps,
                "source": str(path), "source_hash": file_hash(path),
                "face_index": cfg.face_index, "frames": int(spool.n),
                "time_origin": TIME_ORIGIN, "analysis_key": cfg.key()}
        spool.finish(output, meta, extra={"cuts": np.array(cuts, np.int64)})
        searches = occluders.searched if occluders is not None else 0
    return AnalysisSummary(frames=int(spool.n), valid=n_valid, fps=float(info.fps),
                           cuts=len(cuts), hand_searches=searches,
                           cpu=time.process_time() - cpu0, waited=waited)


def analyze(path: str | os.PathLike, config: AnalysisConfig | None = None,
            progress: bool = False) -> FaceTrack:
    """Analyse a clip into a :class:`FaceTrack` (see :func:`analyze_to_file`)."""
    with temp_dir("track") as d:
        out = Path(d) / "track.npz"
        analyze_to_file(path, out, config, progress)
        return FaceTrack.load(out)
