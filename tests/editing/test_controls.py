"""Expression controls: names, values, parsing, the blendshape change they make."""

from __future__ import annotations

import numpy as np
import pytest

from ned.editing.controls import (
    BY_NAME,
    CONTROLS,
    GAZE,
    NAMES,
    blendshape_delta,
    control_groups,
    describe,
    normalise,
    parse_adjust,
)
from ned.errors import NedError
from ned.facs import GROUPS, group_indices


def test_every_control_names_a_group_or_the_gaze():
    for c in CONTROLS:
        assert c.group in GROUPS or c.name in GAZE
        assert 0 < c.level <= 1
    assert set(GAZE) == {"gaze_right", "gaze_up"}
    assert control_groups(["smile", "brow_lower", "gaze_up"]) == {"mouthSmile", "browDown"}


def test_parse_adjust_and_describe_round_trip():
    got = parse_adjust("smile=0.5, brow_lower=0.3,gaze_left=0.2")
    assert got == (("brow_lower", 0.3), ("gaze_right", -0.2), ("smile", 0.5))
    assert parse_adjust(describe(got)) == got
    assert parse_adjust("smile=0") == ()            # zeros dropped
    assert normalise({"smile": 0.0}, keep_zeros=True) == (("smile", 0.0),)


@pytest.mark.parametrize("text, message", [
    ("grin=0.5", "unknown control 'grin'"),
    ("smile=2", "outside \\[-1, 1\\]"),
    ("smile", "name=value"),
    ("smile=abc", "not a number"),
    ("smile=nan", "finite"),
    ("smile=0.2,smile=0.3", "given twice"),
])
def test_bad_adjust_is_one_line(text, message):
    with pytest.raises(NedError, match=message):
        parse_adjust(text)


def test_blendshape_delta_moves_the_group_by_its_level():
    values = np.zeros((3, len(NAMES)), np.float32)
    values[1, NAMES.index("smile")] = 1.0
    values[2, NAMES.index("brow_lower")] = -0.5
    values[2, NAMES.index("gaze_right")] = 1.0       # no blendshape change
    d = blendshape_delta(values)
    assert d.shape == (3, 52) and d.dtype == np.float32
    assert not d[0].any()
    assert np.allclose(d[1, group_indices("mouthSmile")], BY_NAME["smile"].level)
    assert np.allclose(d[2, group_indices("browDown")], -0.5 * BY_NAME["brow_lower"].level)
    assert np.count_nonzero(d) == 4
