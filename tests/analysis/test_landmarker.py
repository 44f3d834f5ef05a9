"""The landmarker's fast result reader (NumPy over MediaPipe's C structs) gives exactly what
MediaPipe's public Python wrapper gives."""

import numpy as np

from ned.analysis.landmarker import Landmarker
from ned.io import read_frames


def test_c_reader_equals_public_wrapper(single_face_path, carphone_path):
    for path in (single_face_path, carphone_path):
        frames = [(f.image, f.time) for _, f in zip(range(30), read_frames(path))]
        with Landmarker() as fast, Landmarker() as public:
            assert fast._c_api is not None  # this MediaPipe has the structs we read
            public._c_api = None
            n = 0
            for image, t in frames:
                a, b = fast.detect(image, t), public.detect(image, t)
                assert len(a) == len(b)
                for x, y in zip(a, b):
                    assert np.array_equal(x.landmarks, y.landmarks)
                    assert np.array_equal(x.blendshapes, y.blendshapes)
                    assert np.array_equal(x.transform, y.transform)
                    assert x.confidence == y.confidence
                    assert x.landmarks.shape == (478, 3) and x.blendshapes.shape == (52,)
                    n += 1
            assert n >= 28  # a face in (nearly) every frame


def test_no_face_gives_no_detection():
    with Landmarker() as lm:
        assert lm.detect(np.zeros((120, 160, 3), np.uint8), 0.0) == []
