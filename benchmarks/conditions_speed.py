"""Conditioning sets (NMFC + shape + eyes + mask) per second at 256x256 on this CPU.

Usage: python benchmarks/conditions_speed.py [--frames 64] [--repeats 3]
Geometry: a synthetic talking-head sequence (the shipped rig under varying expressions,
a frontal pose with small head motion), so no clip analysis is needed. Prints the best and
median of ``repeats`` runs, by wall clock and per CPU second of this process (the machine
is shared, so the wall clock also measures other people's load).
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from ned.facemodel.conditions import ConditionRenderer
from ned.facemodel.model import RigFaceModel
from ned.facemodel.pose import Pose
from ned.facemodel.rig import load_rig


def synthetic_landmarks(n: int, seed: int = 0) -> np.ndarray:
    """(n, 478, 3) image-space landmarks of the rig under random expressions, 640x360."""
    rng = np.random.default_rng(seed)
    rig = load_rig()
    model = RigFaceModel(rig)
    e = np.clip(rng.normal(0.15, 0.15, (n, 52)), 0, 1).astype(np.float32)
    ang = rng.normal(0, 0.08, (n, 3))
    rot = []
    for a, b, c in ang:
        rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
        ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
        rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
        rot.append(np.diag([1.0, -1.0, -1.0]) @ rz @ ry @ rx)
    pose = Pose(np.array(rot, np.float32), np.full(n, 12.0, np.float32),
                np.tile(np.array([320, 180, 0], np.float32), (n, 1)))
    return model.vertices(rig.mean_shape, e, pose)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    lm = synthetic_landmarks(args.frames)
    renderer = ConditionRenderer(size=args.size)
    renderer.render(lm[:2])
    wall, cpu = [], []
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        c = renderer.render(lm)
        wall.append(args.frames / (time.perf_counter() - t0))
        cpu.append(args.frames / max(time.process_time() - c0, 1e-9))
    cover = float(c.mask.mean())
    print(f"conditions at {args.size}x{args.size}, {args.frames} frames x {args.repeats} runs, "
          f"face mask {cover:.0%} of the crop, one thread (numpy + OpenCV):")
    print(f"  wall clock: best {max(wall):.0f} sets/s, median {float(np.median(wall)):.0f}")
    print(f"  per CPU second (process time, robust to other load): best {max(cpu):.0f} "
          f"sets/s, median {float(np.median(cpu)):.0f}   (goal >= 200 sets/s)")


if __name__ == "__main__":
    main()
