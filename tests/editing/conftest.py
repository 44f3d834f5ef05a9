"""Fixtures shared by the edit stage's tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def manip():
    """The shipped default manipulator."""
    from ned.manipulator.infer import load_manipulator

    return load_manipulator()
