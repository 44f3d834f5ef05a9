"""Fixtures of the face-model tests: fits of the sample clips (once per session)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def single_face_fit(single_face_track):
    from ned.facemodel.fit import fit_track

    return fit_track(single_face_track)


@pytest.fixture(scope="session")
def carphone_fit(carphone_track):
    from ned.facemodel.fit import fit_track

    return fit_track(carphone_track)
