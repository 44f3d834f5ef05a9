"""Speech-preservation and temporal-stability metrics from two analysed clips.

Both clips are measured again by the analyser (``ned.analysis.analyze``); nothing here
trusts the edit's own intended values. Frames count only where both tracks hold the face.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ned import topology
from ned.blendshapes import index_of
from ned.errors import NedError
from ned.metrics.expression import syllable_amplitude
from ned.metrics.jsonable import FlatRecord
from ned.records import FaceTrack

MOUTH_POINTS = tuple(sorted(set(topology.LIPS_OUTER) | set(topology.LIPS_INNER)))


@dataclass(frozen=True)
class SpeechScores(FlatRecord):
    """How well the edited clip keeps the source's speech (:func:`speech_metrics`); None
    where undefined (no common frame, constant series).

    Attributes:
        jaw_corr: Pearson correlation of the jawOpen blendshape.
        lip_corr: Pearson correlation of the inner-lip opening / inter-ocular distance.
        syllable_ratio: the edited clip's syllable amplitude over the source's
            (``ned.metrics.expression.syllable_amplitude`` of that opening: its deviation
            from a 0.5 s moving average); 1 = the lips move as much, below 1 = muted
            speech; None where the source's is 0 or undefined (fewer than 2 full windows).
        lip_gap_mae: mean absolute difference of that opening (IOD units).
        mouth_error: mean distance of the 40 lip landmarks, over the source's IOD.
        mouth_error_px: the same in pixels.
        frames: number of frames used (both tracks hold the face).
    """

    jaw_corr: float | None = None
    lip_corr: float | None = None
    syllable_ratio: float | None = None
    lip_gap_mae: float | None = None
    mouth_error: float | None = None
    mouth_error_px: float | None = None
    frames: int = 0


@dataclass(frozen=True)
class TemporalScores(FlatRecord):
    """Landmark jitter of both clips (:func:`temporal_metrics`); None where no three
    consecutive common frames exist.

    Attributes:
        jitter_source, jitter_edited: mean second temporal difference of the raw landmarks,
            over the IOD (per frame^2).
        jitter_ratio: jitter_edited / jitter_source.
    """

    jitter_source: float | None = None
    jitter_edited: float | None = None
    jitter_ratio: float | None = None


def pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson correlation of two (T,) series.

    Returns 1.0 for identical series (even constant ones), None when either series is
    constant but they differ or fewer than 3 samples exist (undefined).
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise NedError(f"correlation needs series of one length, got {a.shape} and {b.shape}")
    if len(a) and np.array_equal(a, b):
        return 1.0
    if len(a) < 3 or a.std() < 1e-9 or b.std() < 1e-9:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def both_valid(src: FaceTrack, edt: FaceTrack) -> np.ndarray:
    """(T,) bool: frames where both tracks hold the face (tracks must be of one length)."""
    if src.n_frames != edt.n_frames:
        raise NedError(f"tracks differ in length: {src.n_frames} vs {edt.n_frames} frames")
    return src.valid & edt.valid


def speech_metrics(src: FaceTrack, edt: FaceTrack) -> SpeechScores:
    """How well the edited clip keeps the source's speech, over the frames where both
    tracks (of one length T) hold the face; see :class:`SpeechScores`."""
    v = both_valid(src, edt)
    n = int(v.sum())
    if n == 0:
        return SpeechScores()
    jaw = index_of("jawOpen")
    gs, ge = topology.inner_lip_gap(src.landmarks[v]), topology.inner_lip_gap(edt.landmarks[v])
    ms = src.landmarks[v][:, list(MOUTH_POINTS), :2]
    me = edt.landmarks[v][:, list(MOUTH_POINTS), :2]
    err_px = np.linalg.norm(ms - me, axis=-1).mean(-1)  # (n,)
    iod = np.maximum(topology.inter_ocular(src.landmarks[v]), 1e-6)
    return SpeechScores(jaw_corr=pearson(src.blendshapes[v, jaw], edt.blendshapes[v, jaw]),
                        lip_corr=pearson(gs, ge), syllable_ratio=syllable_ratio(src, edt),
                        lip_gap_mae=float(np.abs(gs - ge).mean()),
                        mouth_error=float((err_px / iod).mean()),
                        mouth_error_px=float(err_px.mean()), frames=n)


def syllable_ratio(src: FaceTrack, edt: FaceTrack) -> float | None:
    """Syllable amplitude of the edited clip's inner-lip opening over the source's, on the
    frames where both tracks hold the face (others NaN, so the moving average never spans a
    gap); see :class:`SpeechScores`. 1.0 for identical openings."""
    v = both_valid(src, edt)
    gap = {}
    for key, track in (("src", src), ("edt", edt)):
        g = np.full(track.n_frames, np.nan)
        if v.any():
            g[v] = topology.inner_lip_gap(track.landmarks[v])
        gap[key] = g
    fps = src.fps if src.fps > 0 else 25.0
    a, b = syllable_amplitude(gap["src"], fps), syllable_amplitude(gap["edt"], fps)
    if not (np.isfinite(a) and np.isfinite(b)):
        return None
    if np.array_equal(gap["src"], gap["edt"], equal_nan=True):
        return 1.0
    return float(b / a) if a > 1e-9 else None


def landmark_jitter(track: FaceTrack, mask: np.ndarray | None = None) -> float | None:
    """Mean magnitude of the second temporal difference of the raw landmarks, over the IOD.

    Counts triples of consecutive frames that all hold the face (and are in ``mask``).
    Returns None when there is no such triple.
    """
    v = track.valid if mask is None else track.valid & mask
    ok = v[:-2] & v[1:-1] & v[2:]
    if not ok.any():
        return None
    lm = track.landmarks_raw[..., :2].astype(np.float64)
    acc = np.linalg.norm(lm[2:] - 2 * lm[1:-1] + lm[:-2], axis=-1).mean(-1)  # (T-2,)
    iod = np.maximum(topology.inter_ocular(lm[1:-1]), 1e-6)
    return float((acc / iod)[ok].mean())


def temporal_metrics(src: FaceTrack, edt: FaceTrack) -> TemporalScores:
    """Landmark jitter of the edited clip against the source's, over the frames where both
    tracks (of one length T) hold the face; see :class:`TemporalScores`."""
    v = both_valid(src, edt)
    js, je = landmark_jitter(src, v), landmark_jitter(edt, v)
    ratio = je / js if js and je is not None else None
    return TemporalScores(jitter_source=js, jitter_edited=je, jitter_ratio=ratio)
