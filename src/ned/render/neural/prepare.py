"""Turn a video into a :class:`~ned.render.neural.data.RendererClip` (aligned crops,
conditioning images, masks, crop-space landmarks)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ned.errors import NedError
from ned.render.neural.data import RendererClip
from ned.topology import N_LANDMARKS

#: conditioner(points (478, 3) crop pixels, size) -> ((S,S,9) uint8, (S,S) uint8 mask)
Conditioner = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]


def default_conditioner() -> tuple[str, Conditioner]:
    """The conditioning function used for training: the face model's
    ``ned.facemodel.conditions.conditioner`` (the same images the edit pipeline renders),
    else the landmark-mesh painter
    (:func:`~ned.render.neural.conditioning.landmark_conditions`)."""
    try:
        from ned.facemodel.conditions import conditioner
    except ImportError:
        from ned.render.neural.conditioning import landmark_conditions

        return "landmark_mesh", landmark_conditions
    return "ned.facemodel.conditions", conditioner


def prepare_clip(path: str | os.PathLike, size: int, *, conditioner: Conditioner | None = None,
                 name: str = "", progress: bool = False,
                 store: str | os.PathLike | None = None) -> RendererClip:
    """Analyse, align and condition every frame of a clip.

    Args:
        path: video file.
        size: crop side S in pixels.
        conditioner: conditioning function (default :func:`default_conditioner`).
        name: actor / clip name (default: the file stem).
        progress: show a progress bar.
        store: folder for the arrays as memory-mapped ``.npy`` files (long clips need
            about 0.85 MB per frame at 256 px); a complete store of the same clip, size
            and conditioner is reused without re-analysis. None: keep them in memory.

    Returns:
        The prepared clip; frames without a face are marked invalid (zero images).

    Raises:
        NedError: unreadable video or no face in any frame.
    """
    from ned.align import alignment_matrices, transform_points, warp_to_crop
    from ned.analysis import analyze
    from ned.io.video import read_frames

    path = Path(path)
    cname, cond_fn = ("custom", conditioner) if conditioner else default_conditioner()
    key = {"source": str(path.resolve()), "bytes": path.stat().st_size if path.is_file() else 0,
           "size": size, "conditioner": cname}
    if store is not None and (cached := _load_store(Path(store), key)) is not None:
        return cached
    if not path.is_file():
        raise NedError(f"video not found: {path}")
    track = analyze(path)
    valid = np.asarray(track.valid, bool)
    if not valid.any():
        raise NedError(f"{path}: no face found in any frame, nothing to train on")
    t_all = track.n_frames
    mats = np.zeros((t_all, 2, 3))
    mats[valid] = alignment_matrices(track.landmarks[valid], size)
    arrays = _allocate(store, t_all, size)
    frames = read_frames(path)
    if progress:
        from tqdm import tqdm
        frames = tqdm(frames, total=t_all, desc=f"prepare {path.name}", unit="frame")
    for fr in frames:
        t = fr.index
        if t >= t_all or not valid[t]:
            continue
        pts = transform_points(track.landmarks[t], mats[t])
        arrays["images"][t] = warp_to_crop(fr.image, mats[t], size)
        arrays["conditions"][t], arrays["masks"][t] = cond_fn(pts, size)
        arrays["points"][t] = pts
    arrays["valid"][:] = valid
    clip = RendererClip(**arrays, name=name or path.stem, conditioner=cname)
    if store is not None:
        for a in arrays.values():
            a.flush()
        (Path(store) / "prepared.json").write_text(json.dumps({**key, "name": clip.name}))
    return clip


_SHAPES = {"images": ((3,), np.uint8), "conditions": ((9,), np.uint8), "masks": ((), np.uint8)}


def _allocate(store: str | os.PathLike | None, t: int, size: int) -> dict[str, np.ndarray]:
    shapes = {k: ((t, size, size, *extra), dt) for k, (extra, dt) in _SHAPES.items()}
    shapes["points"] = ((t, N_LANDMARKS, 3), np.float32)
    shapes["valid"] = ((t,), np.bool_)
    if store is None:
        return {k: np.zeros(sh, dt) for k, (sh, dt) in shapes.items()}
    store = Path(store)
    store.mkdir(parents=True, exist_ok=True)
    (store / "prepared.json").unlink(missing_ok=True)
    return {k: np.lib.format.open_memmap(store / f"{k}.npy", "w+", dt, sh)
            for k, (sh, dt) in shapes.items()}


def _load_store(store: Path, key: dict) -> RendererClip | None:
    marker = store / "prepared.json"
    if not marker.is_file():
        return None
    meta = json.loads(marker.read_text())
    if any(meta.get(k) != v for k, v in key.items()):
        return None
    arrays = {k: np.load(store / f"{k}.npy", mmap_mode="r")
              for k in ("images", "conditions", "masks", "points", "valid")}
    arrays["valid"] = np.array(arrays["valid"])
    return RendererClip(**arrays, name=meta["name"], conditioner=key["conditioner"])
