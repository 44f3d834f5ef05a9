"""The edit's geometry guards: the mouth keeps its measured opening."""

from __future__ import annotations

import numpy as np

from ned.editing.geometry import INNER_LIP_PAIRS, keep_mouth_opening
from ned.topology import inner_lip_gap


def test_mouth_opening_restored_and_lip_midpoints_kept(single_face_track):
    ref = single_face_track.landmarks[:10].astype(np.float32)
    edited = ref.copy()
    up, low = np.array(INNER_LIP_PAIRS).T
    edited[:, low, 1] -= 3.0        # an edit that closes the mouth by 3 px ...
    edited[:, :, 0] += 1.5          # ... and shifts everything
    got = keep_mouth_opening(edited, ref)
    np.testing.assert_allclose(inner_lip_gap(got), inner_lip_gap(ref), atol=2e-3)
    mid = (got[:, up, :2] + got[:, low, :2]) / 2
    np.testing.assert_allclose(mid, (edited[:, up, :2] + edited[:, low, :2]) / 2, atol=1e-4)
    others = np.setdiff1d(np.arange(478), np.r_[up, low])
    assert np.array_equal(got[:, others], edited[:, others])
    assert np.abs(inner_lip_gap(edited) - inner_lip_gap(ref)).min() > 0.02  # it did move
