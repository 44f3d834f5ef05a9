"""Do the expression controls do what they say? Each control's channel re-measured on
edited frames, and the speech kept.

Frames of a clip are edited by :class:`ned.editing.preview.Previewer` (the planner and
warp of ``ned.edit``) and re-measured by the analyser's landmarker in image mode on a crop
around the face (as the calibration does), the source's frames the same way. Each control
has a measure (:data:`MEASURES`): its group's blendshape level, or, for the groups the
analyser cannot verify (``ned.facs.GEOMETRIC_FLOORS``: mouthFrown, mouthPress, eyeWide and
browDown, whose frown the analyser reads little of), the geometric
change of the re-detected landmarks in inter-ocular distances; gaze: the iris centre's
offset from the eye's centre along the eye line (right) or across it (up), in eye widths.
Speech: the correlation of the re-detected inner-lip opening with the source's over every
frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ned.facs import group_indices

#: control -> (kind, name): ("group", blendshape group) or ("geometry", measure of
#: ``ned.facegeom.geometric_changes``) or ("gaze", "right" | "up").
MEASURES: dict[str, tuple[str, str]] = {
    "smile": ("group", "mouthSmile"), "frown": ("geometry", "corners_down"),
    "brow_raise_inner": ("group", "browInnerUp"), "brow_raise_outer": ("group", "browOuterUp"),
    "brow_lower": ("geometry", "inner_brow_down"), "eyes_wide": ("geometry", "upper_lid_up"),
    "squint": ("group", "eyeSquint"), "upper_lip_raise": ("group", "mouthUpperUp"),
    "lip_press": ("geometry", "lips_thinned"), "lip_stretch": ("group", "mouthStretch"),
    "gaze_right": ("gaze", "right"), "gaze_up": ("gaze", "up"),
}


@dataclass(frozen=True)
class Remeasured:
    """Source and edited frames re-measured.

    Attributes:
        frames: the frame indices.
        source_bs, edited_bs: (n, 52) blendshapes (NaN rows: no face found).
        source_lm, edited_lm: (n, 478, 3) landmarks in crop pixels (NaN: none).
    """

    frames: np.ndarray
    source_bs: np.ndarray
    edited_bs: np.ndarray
    source_lm: np.ndarray
    edited_lm: np.ndarray

    def change(self, control: str) -> float:
        """Mean change edited - source of ``control``'s measure over the frames where
        both show a face."""
        from ned.facegeom import geometric_changes

        ok = ~(np.isnan(self.source_bs).any(1) | np.isnan(self.edited_bs).any(1))
        kind, name = MEASURES[control]
        if kind == "group":
            idx = group_indices(name)
            return float((self.edited_bs[ok][:, idx] - self.source_bs[ok][:, idx]).mean())
        if kind == "geometry":
            return float(geometric_changes(self.source_lm[ok], self.edited_lm[ok])[name].mean())
        return float((gaze(self.edited_lm[ok], name) - gaze(self.source_lm[ok], name)).mean())

    def lip_r(self, select: np.ndarray | None = None, motion: int = 0) -> float:
        """Pearson r of the re-detected inner-lip opening (IOD), source against edit.

        Args:
            select: (n,) bool frames to use (None: all with a face in both).
            motion: > 0: the opening's motion only, less its moving average over this
                many frames (the posture an emotion may change; the frames must be
                consecutive).
        """
        ok = ~(np.isnan(self.source_lm).any((1, 2)) | np.isnan(self.edited_lm).any((1, 2)))
        if select is not None:
            ok &= np.asarray(select, bool)
        a, b = lip_opening(self.source_lm[ok]), lip_opening(self.edited_lm[ok])
        if motion > 1 and len(a) > motion:
            from scipy.ndimage import uniform_filter1d

            a = a - uniform_filter1d(a, motion, mode="nearest")
            b = b - uniform_filter1d(b, motion, mode="nearest")
        if len(a) < 3 or a.std() < 1e-9 or b.std() < 1e-9:
            return float("nan")
        return float(np.corrcoef(a, b)[0, 1])


def lip_opening(lm: np.ndarray) -> np.ndarray:
    """(T,) inner-lip gap (points 13-14) in inter-ocular distances."""
    iod = np.linalg.norm(lm[:, 263, :2] - lm[:, 33, :2], axis=1)
    return np.linalg.norm(lm[:, 14, :2] - lm[:, 13, :2], axis=1) / np.maximum(iod, 1e-6)


def gaze(lm: np.ndarray, axis: str) -> np.ndarray:
    """(T,) mean offset of both irises from their eyes' corner midpoints, in eye widths,
    along the eye line towards the image's right (``right``) or across it, up (``up``)."""
    out = np.zeros(len(lm))
    for (outer, inner), iris in (((33, 133), 468), ((263, 362), 473)):
        span = lm[:, inner, :2] - lm[:, outer, :2]
        width = np.linalg.norm(span, axis=1)
        x = span * np.where(span[:, :1] >= 0, 1.0, -1.0) / np.maximum(width, 1e-6)[:, None]
        up = np.stack([x[:, 1], -x[:, 0]], 1)
        off = lm[:, iris, :2] - (lm[:, inner, :2] + lm[:, outer, :2]) / 2
        out += ((off * (x if axis == "right" else up)).sum(1)) / np.maximum(width, 1e-6)
    return out / 2


def remeasure(previewer, config, frames) -> Remeasured:
    """Edit ``frames`` of the previewer's clip as ``config`` says and re-measure them and
    the source's frames (:class:`ned.editing.preview.Previewer`,
    :class:`ned.editing.config.EditConfig`)."""
    from ned.editing.calibrate import CalibrationConfig, Remeasure

    frames = np.asarray(frames, int)
    m = Remeasure(CalibrationConfig())
    try:
        src_c, edit_c = [], []
        for i in frames:
            f = previewer.frame(config, int(i))
            lm = f.plan.src if f.plan.src is not None else None
            if lm is None:
                continue
            src_c.append(m.crop(f.source, lm))
            edit_c.append(m.crop(f.edited, lm))
        sb = m(src_c)
        sl = m.landmarks.copy()
        eb = m(edit_c)
        el = m.landmarks.copy()
    finally:
        m.close()
    return Remeasured(frames, sb, eb, sl, el)
