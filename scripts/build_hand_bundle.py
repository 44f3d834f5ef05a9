"""Rebuild ``src/ned/assets/hand_landmarker.task`` from the mediapipe 0.10.21 wheel.

The wheel's legacy modules hold the two models of the MediaPipe Hand Landmarker
(``mediapipe/modules/palm_detection/palm_detection_full.tflite`` and
``mediapipe/modules/hand_landmark/hand_landmark_full.tflite``, Apache-2.0, Google LLC).
The Tasks API loads them as a zip bundle holding ``hand_detector.tflite`` and
``hand_landmarks_detector.tflite``, stored uncompressed (the models are memory-mapped).

Usage:
    pip download mediapipe==0.10.21 --no-deps -d /tmp/mp21   # any platform's wheel
    python scripts/build_hand_bundle.py /tmp/mp21/mediapipe-0.10.21-*.whl
"""

from __future__ import annotations

import argparse
import hashlib
import zipfile
from pathlib import Path

MEMBERS = {
    "hand_detector.tflite": "mediapipe/modules/palm_detection/palm_detection_full.tflite",
    "hand_landmarks_detector.tflite": "mediapipe/modules/hand_landmark/hand_landmark_full.tflite",
}
OUT = Path(__file__).resolve().parents[1] / "src" / "ned" / "assets" / "hand_landmarker.task"


def build(wheel: Path, out: Path = OUT) -> str:
    """Write the bundle; returns its sha256 (reproducible: fixed member dates)."""
    with zipfile.ZipFile(wheel) as whl, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as task:
        for name, member in MEMBERS.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            task.writestr(info, whl.read(member))
    return hashlib.sha256(out.read_bytes()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel", type=Path, help="mediapipe 0.10.21 wheel (.whl)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    print(args.out, build(args.wheel, args.out))


if __name__ == "__main__":
    main()
