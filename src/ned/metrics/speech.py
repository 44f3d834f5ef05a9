"""Speech-preservation and temporal-stability metrics from two analysed clips.

Both clips are measured again by the analyser (``ned.analysis.analyze``); nothing here
trusts the edit's own intended values. Frames count only where both tracks hold the face.
"""

from __future__ import annotations

import numpy as np

from ned import topology
from ned.blendshapes import index_of
from ned.errors import NedError
from ned.records import FaceTrack

MOUTH_POINTS = tuple(sorted(set(topology.LIPS_OUTER) | set(topology.LIPS_INNER)))


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


def speech_metrics(src: FaceTrack, edt: FaceTrack) -> dict[str, float | None]:
    """How well the edited clip keeps the source's speech.

    Returns:
        jaw_corr: Pearson correlation of the jawOpen blendshape.
        lip_corr: Pearson correlation of the inner-lip opening / inter-ocular distance.
        lip_gap_mae: mean absolute difference of that opening (IOD units).
        mouth_error: mean distance of the 40 lip landmarks, over the source's IOD.
        mouth_error_px: the same in pixels.
        frames: number of frames used.
    """
    v = both_valid(src, edt)
    n = int(v.sum())
    if n == 0:
        return {"jaw_corr": None, "lip_corr": None, "lip_gap_mae": None, "mouth_error": None,
                "mouth_error_px": None, "frames": 0}
    jaw = index_of("jawOpen")
    gs, ge = topology.inner_lip_gap(src.landmarks[v]), topology.inner_lip_gap(edt.landmarks[v])
    ms = src.landmarks[v][:, list(MOUTH_POINTS), :2]
    me = edt.landmarks[v][:, list(MOUTH_POINTS), :2]
    err_px = np.linalg.norm(ms - me, axis=-1).mean(-1)  # (n,)
    iod = np.maximum(topology.inter_ocular(src.landmarks[v]), 1e-6)
    return {"jaw_corr": pearson(src.blendshapes[v, jaw], edt.blendshapes[v, jaw]),
            "lip_corr": pearson(gs, ge), "lip_gap_mae": float(np.abs(gs - ge).mean()),
            "mouth_error": float((err_px / iod).mean()), "mouth_error_px": float(err_px.mean()),
            "frames": n}


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


def temporal_metrics(src: FaceTrack, edt: FaceTrack) -> dict[str, float | None]:
    """Landmark jitter of the edited clip against the source's (same frames).

    Returns:
        jitter_source, jitter_edited (IOD per frame^2), jitter_ratio (edited / source).
    """
    v = both_valid(src, edt)
    js, je = landmark_jitter(src, v), landmark_jitter(edt, v)
    ratio = je / js if js and je is not None else None
    return {"jitter_source": js, "jitter_edited": je, "jitter_ratio": ratio}
