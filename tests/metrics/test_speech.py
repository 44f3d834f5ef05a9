"""Speech and jitter metrics: known answers on edited copies of a real track."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ned import topology
from ned.blendshapes import index_of
from ned.errors import NedError
from ned.metrics.speech import (
    SpeechScores,
    TemporalScores,
    landmark_jitter,
    pearson,
    speech_metrics,
    temporal_metrics,
)


def test_pearson_cases():
    a = np.arange(10.0)
    assert pearson(a, a) == 1.0
    assert pearson(a, -2 * a + 3) == pytest.approx(-1.0)
    assert pearson(np.ones(5), np.ones(5)) == 1.0  # identical constant series
    assert pearson(np.ones(5), np.arange(5.0)) is None  # undefined
    with pytest.raises(NedError):
        pearson(np.ones(3), np.ones(4))


def _copy(track, **changes):
    return dataclasses.replace(track, **changes)


def test_identical_tracks(single_face_track):
    s = speech_metrics(single_face_track, single_face_track)
    assert s.jaw_corr == 1.0 and s.lip_corr == 1.0
    assert s.mouth_error == 0.0 and s.lip_gap_mae == 0.0
    assert s.frames == single_face_track.n_frames
    assert s.syllable_ratio == 1.0
    t = temporal_metrics(single_face_track, single_face_track)
    assert t.jitter_ratio == 1.0 and t.jitter_source > 0
    assert SpeechScores.from_json(s.to_json()) == s
    assert TemporalScores.from_json(t.to_json()) == t


def test_shifted_landmarks_give_shift_as_mouth_error(single_face_track):
    lm = single_face_track.landmarks.copy()
    lm[..., 0] += 2.0
    s = speech_metrics(single_face_track, _copy(single_face_track, landmarks=lm))
    assert s.mouth_error_px == pytest.approx(2.0, abs=1e-4)
    assert s.lip_corr == pytest.approx(1.0, abs=1e-6)


def test_halved_lip_opening_halves_the_syllable_amplitude(single_face_track):
    tr = single_face_track
    lm = tr.landmarks.copy()
    top = lm[:, topology.UPPER_INNER_LIP]
    lm[:, topology.LOWER_INNER_LIP] = top + 0.5 * (lm[:, topology.LOWER_INNER_LIP] - top)
    s = speech_metrics(tr, _copy(tr, landmarks=lm))
    assert s.syllable_ratio == pytest.approx(0.5, abs=1e-4)
    assert s.lip_corr == pytest.approx(1.0, abs=1e-6)  # same motion, smaller
    frozen = tr.landmarks.copy()
    frozen[:, topology.LOWER_INNER_LIP] = frozen[:, topology.UPPER_INNER_LIP] + [0, 5, 0]
    assert speech_metrics(tr, _copy(tr, landmarks=frozen)).syllable_ratio < 0.05


def test_frozen_jaw_loses_correlation(single_face_track):
    tr = single_face_track
    bs = tr.blendshapes.copy()
    rng = np.random.default_rng(0)
    bs[:, index_of("jawOpen")] = rng.permutation(bs[:, index_of("jawOpen")])
    s = speech_metrics(tr, _copy(tr, blendshapes=bs))
    assert s.jaw_corr < 0.6


def test_jitter_grows_with_noise(single_face_track):
    tr = single_face_track
    rng = np.random.default_rng(1)
    noisy = tr.landmarks_raw + rng.normal(0, 1.0, tr.landmarks_raw.shape).astype(np.float32)
    t = temporal_metrics(tr, _copy(tr, landmarks_raw=noisy))
    assert t.jitter_ratio > 1.5
    assert landmark_jitter(_copy(tr, valid=np.zeros(tr.n_frames, bool))) is None


def test_no_common_frame_gives_empty_scores(single_face_track):
    tr = single_face_track
    none = _copy(tr, valid=np.zeros(tr.n_frames, bool))
    assert speech_metrics(tr, none) == SpeechScores(frames=0)
    assert temporal_metrics(tr, none) == TemporalScores()


def test_length_mismatch_is_an_error(single_face_track, carphone_track):
    with pytest.raises(NedError, match="differ in length"):
        speech_metrics(single_face_track, carphone_track)
