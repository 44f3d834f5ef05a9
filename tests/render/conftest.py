"""Fixtures of the neural-renderer tests: the sample clip prepared at 32 px and a very
small architecture that trains in a fraction of a second per step."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def neural_clip32(single_face_path):
    from ned.render.neural.prepare import prepare_clip

    return prepare_clip(single_face_path, 32)


@pytest.fixture(scope="session")
def micro_cfg():
    from ned.render.neural.config import preset

    return preset("tiny", size=32, ngf=8, n_blocks=2, ndf=8, mouth_size=12)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """The CI machine is small and shared: intra-op threads only add contention here."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
