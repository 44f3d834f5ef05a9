"""FACS displacement fields: exact at their keys, one-sided where they should be, zero
elsewhere, in the rig's units."""

from __future__ import annotations

import numpy as np
import pytest

from ned.blendshapes import INDEX
from ned.facemodel import fields
from ned.facemodel.mesh import load_canonical_mesh
from ned.facs import GROUPS


@pytest.fixture(scope="module")
def offsets():
    return fields.field_offsets()


@pytest.fixture(scope="module")
def canonical():
    v = np.asarray(load_canonical_mesh().vertices, np.float64)
    iod = float(np.linalg.norm((v[[263, 362]].mean(0) - v[[33, 133]].mean(0))[:2]))
    return v, iod


def test_shape_units_and_read_only(offsets):
    assert offsets.shape == (52, 478, 3) and offsets.dtype == np.float32
    assert not offsets.flags.writeable
    rows = {INDEX[c] for g in fields.FIELDS for c in GROUPS[g]}
    for k in range(52):
        assert (np.abs(offsets[k]).max() > 0.05) == (k in rows)   # cm; zero rows elsewhere
    assert np.abs(offsets[:, 468:]).max() == 0                      # iris points never move


def test_exact_at_the_keys(offsets, canonical):
    _, iod = canonical
    sigma, keys = fields.FIELDS["browOuterUp"]
    right = offsets[INDEX["browOuterUpRight"]]
    for v, (inward, up) in keys:
        if (inward, up) != (0.0, 0.0):
            # the subject's right half: inward is +x, up is +y; a one-sided field on its
            # own half keeps its key value (the midline ramp is 1 there)
            np.testing.assert_allclose(right[v, :2], (inward * iod, up * iod), atol=0.02 * iod)


def test_one_sided_fields_mirror(offsets, canonical):
    v, _ = canonical
    mirror = fields.mirror_index(v)
    left, right = offsets[INDEX["mouthFrownLeft"]], offsets[INDEX["mouthFrownRight"]]
    assert np.abs(left[:468][v[:, 0] < -1.0]).max() < 1e-3           # left field: left half
    assert np.abs(right[:468][v[:, 0] > 1.0]).max() < 1e-3
    np.testing.assert_allclose(left[mirror, 0], -right[:468, 0], atol=0.02)
    np.testing.assert_allclose(left[mirror, 1], right[:468, 1], atol=0.02)


def test_directions_follow_facs(offsets):
    # AU1 raises the inner brow, AU15 lowers the corner, AU24 brings the lips together
    assert offsets[INDEX["browInnerUp"], 107, 1] > 0 and offsets[INDEX["browInnerUp"], 336, 1] > 0
    assert offsets[INDEX["mouthFrownRight"], 61, 1] < 0
    press = offsets[INDEX["mouthPressRight"]] + offsets[INDEX["mouthPressLeft"]]
    assert press[0, 1] < 0 < press[17, 1]       # upper lip down, lower lip up
    # upper lids stay where they are under the brow fields
    assert np.abs(offsets[INDEX["browOuterUpRight"], 159]).max() < 1e-6


def test_unknown_group():
    v = np.zeros((468, 3))
    with pytest.raises(KeyError, match="no FACS field"):
        fields.group_field("jawOpen", 0, v, np.zeros((0, 3), int), 1.0)
    with pytest.raises(KeyError, match="no posture field"):
        fields.posture_offsets("smile")


def test_posed_fields_at_the_table_level(offsets, canonical):
    """At its target-table level a field shows the action unit as posed: the frown is a V
    (inner ends down and together, outer ends still), the smile lifts the cheek, the
    corner depressor raises the chin boss, and the inner lips move alike (speech kept)."""
    from ned.facs import TARGETS

    _, iod = canonical

    def both(group):   # a group's channels summed (left and right halves), IOD per unit
        return sum(offsets[INDEX[c]] for c in GROUPS[group]) / iod

    frown = both("browDown") * TARGETS["angry"]["browDown"]
    assert frown[107, 1] < -0.2 and frown[336, 1] < -0.2            # inner ends down ...
    assert frown[107, 0] > 0.08 and frown[336, 0] < -0.08           # ... and together
    assert abs(frown[70, 1]) < 0.01 and abs(frown[300, 1]) < 0.01   # outer ends still
    smile = both("mouthSmile") * TARGETS["happy"]["mouthSmile"]
    assert smile[61, 1] > 0.1 and smile[118, 1] > 0.04 and abs(smile[13]).max() < 1e-6
    sad = both("mouthFrown") * TARGETS["sad"]["mouthFrown"]
    assert sad[61, 1] < -0.1 and sad[200, 1] > 0.05
    np.testing.assert_allclose(sad[13, 1], sad[14, 1], atol=1e-6)    # the opening is kept
    jaw = fields.posture_offsets("jawDrop") / iod
    assert jaw[152, 1] == pytest.approx(-0.12, abs=1e-3) and abs(jaw[13]).max() < 1e-9
    # AU 9: the wings up towards a still root (the side walls squeezed), lips and lids held
    nose = fields.posture_offsets("noseWrinkle") / iod
    assert nose[129, 1] == pytest.approx(0.06, abs=1e-3) and nose[358, 1] > 0.05
    assert abs(nose[6]).max() < 1e-9 and abs(nose[168]).max() < 1e-9
    assert nose[217, 1] - nose[188, 1] > 0.03                        # the wall compresses
    assert max(abs(nose[i]).max() for i in (13, 14, 0, 17, 159, 145, 386, 374)) < 1e-9
    # AU 4's medial pull alone (fear's and sadness's knitted brows): the inner ends
    # together, nothing lowered, the midline, the outer ends and the lids still
    knit = fields.posture_offsets("browTogether") / iod
    assert knit[107, 0] == pytest.approx(0.08, abs=1e-3) and knit[336, 0] < -0.07
    assert abs(knit[:, 1]).max() < 1e-9
    assert max(abs(knit[i]).max() for i in (9, 168, 70, 300, 159, 386, 13)) < 1e-9
