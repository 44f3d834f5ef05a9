"""Edited geometry for ``ned.edit``: measured landmarks moved to the edited expressions,
with the speech kept as the lips' motion.

The displacement of a frame is ``pose(sum_k (new_k - old_k) * offsets_k)`` over the 52
channels, with the frame's pose estimated against the clip's fitted model. The offsets of
the edit (:class:`ExpressionBasis`) are not all the clip's own: a per-clip refit on a few
seconds of speech can point a rarely used emotion channel anywhere (measured: carphone's
refitted outer-brow raise moved the brow by 0.001 IOD), so the emotion groups take the
shipped rig (fitted on more data) or a hand-set FACS field
(:mod:`ned.facemodel.fields`), each times a per-group gain that the clip's calibration
(:mod:`ned.editing.calibrate`) sets; every other channel (speech, blinks, gaze) keeps the
clip's own offsets.

Speech is the lips' motion, not their posture (:func:`lip_posture`): the edit may close a
grin's parted lips or part closed ones, while every syllable opens and closes as in the
source.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import numpy as np

from ned import topology as tp
from ned.blendshapes import INDEX
from ned.errors import NedError
from ned.facemodel.deform import smooth_field
from ned.facemodel.fields import FIELDS, field_offsets
from ned.facemodel.fit import TrackFit, close_lids, normalise_clip
from ned.facemodel.rig import Rig
from ned.facs import GROUPS, POSTURES, SPEECH_GROUPS, TARGETS, group_indices

#: Starting gain of each emotion group the target raises, on its FACS field
#: (:mod:`ned.facemodel.fields`, written so that the target table's level shows the action
#: unit as clearly posed): 1 is the posed geometry. The calibration may raise a gain (the
#: analyser reads the face under its floor) but never lowers one below this.
START_GAINS: dict[str, float] = {g: 1.0 for g in GROUPS} | {"mouthSmile": 1.5}
#: Starting gain of a group the target lowers to rest (a grin removed): the rig's own
#: size (scaled up, a removed smile drags the corners below the lower lip), or the
#: field's.
REMOVAL_GAIN = 1.0
REMOVAL_GAINS: dict[str, float] = {"mouthSmile": 1.0}
#: Groups drawn with the shipped rig when an edit raises them (the rig's smile, fitted on
#: real smiles, also parts and widens the lips: carphone happy re-measured mouthSmile 0.74
#: with it at gain 1.5, 0.36 with the field) and with their field when it lowers them (a
#: removed smile lowers the corners, not the lips' centre, which is speech).
RIG_WHEN_RAISED = ("mouthSmile",)
#: The largest gain of a group: past it the face stops looking like a face (eyeWide:
#: the sclera balloons around the rigid iris; mouthPress: the lips smear; mouthUpperUp:
#: a closed mouth's lip line is stretched into a red gap; browDown: the brow folds into
#: the lid, and the analyser, chasing a browDown it reads little of, drove it there:
#: single_face angry at gain 2 folded on every frame and kept 84 % of its edit).
MAX_GAINS: dict[str, float] = {"eyeWide": 1.3, "mouthPress": 1.5, "mouthUpperUp": 1.5,
                               "mouthSmile": 3.0, "browDown": 1.3}
MAX_GAIN = 2.0
#: Cheek raise (cheekSquint, AU 6) per unit of smile (AU 12) when the smile is drawn with
#: offsets that lack it (the clip's own or the rig's; the smile's field carries it).
DUCHENNE = 0.6
#: A group the clip itself exercises this much (std of its level over the fit frames)
#: is removed with the clip's own offsets: they show how this face makes the expression
#: (single_face's grin goes back to his own neutral mouth). A raised group always takes
#: its field (or the rig): a clip's own fit of a channel it moves for other reasons can
#: be small (single_face's browInnerUp follows his gaze: the sad brow moved 0.04 IOD).
EXERCISED = 0.1


def initial_gains(raised: Collection[str]) -> dict[str, float]:
    """Each group's starting gain: :data:`START_GAINS` for the groups the target raises,
    :data:`REMOVAL_GAINS` (else :data:`REMOVAL_GAIN`) for those it lowers to rest."""
    return {g: START_GAINS[g] if g in raised else REMOVAL_GAINS.get(g, REMOVAL_GAIN)
            for g in GROUPS}


@dataclass(frozen=True)
class ExpressionBasis:
    """The offsets an edit moves the face with.

    Attributes:
        offsets: (52, 478, 3) float32 cm per unit coefficient (gains applied).
        gains: group -> the gain applied to its offsets.
    """

    offsets: np.ndarray
    gains: Mapping[str, float] = field(default_factory=dict)
    lowered: frozenset[str] = frozenset()

    @classmethod
    def for_fit(cls, fit: TrackFit, gains: Mapping[str, float] | None = None,
                raised: Collection[str] | None = None,
                own: Mapping[str, np.ndarray] | None = None) -> ExpressionBasis:
        """The clip's offsets for speech and the other channels; the FACS field of each
        emotion group (:mod:`ned.facemodel.fields`; the rig's for :data:`RIG_WHEN_RAISED`
        raised, the clip's own for a lowered group the clip exercises), times ``gains``
        (missing: :func:`initial_gains`, capped at :data:`MAX_GAINS`).

        Args:
            fit: the clip's fitted model.
            gains: group -> gain.
            raised: the groups the edit raises (None: all); the others are lowered
                (:data:`RIG_WHEN_RAISED` then takes its field).
            own: lowered group -> (len(channels), 478, 3) the clip's own offsets of a group
                the fit's frames did not exercise but later frames did (fitted on them:
                :func:`late_offsets`); used like the offsets of an exercised group.
        """
        raised = set(GROUPS) if raised is None else set(raised)
        g = {k: float(v) for k, v in {**initial_gains(raised), **(gains or {})}.items()}
        for k, v in g.items():
            if k not in GROUPS:
                raise NedError(f"unknown channel group {k!r} in the gains")
            if not np.isfinite(v) or v < 0:
                raise NedError(f"gain of {k} must be a finite number >= 0, got {v}")
            g[k] = min(v, MAX_GAINS.get(k, MAX_GAIN))
        out = np.array(fit.model.offsets, np.float32, copy=True)
        shipped, facs = smoothed_rig(fit.model.rig), field_offsets()
        lowered = frozenset(GROUPS) - raised
        spread = np.asarray(fit.expressions, np.float64)[np.asarray(fit.valid, bool)]
        start = initial_gains(raised)
        factor, source = {}, {}
        own = dict(own or {})
        for group in GROUPS:
            idx = group_indices(group)
            if group in lowered and group in own:
                factor[group], source[group] = g[group] / start[group], "clip"
                out[idx] = np.asarray(own[group], np.float32) * factor[group]
                continue
            if group in lowered and exercised(spread, group):
                # the clip's own offsets, at the data's own size to start with
                factor[group], source[group] = g[group] / start[group], "clip"
                out[idx] = fit.model.offsets[idx] * factor[group]
                continue
            use_rig = group not in FIELDS or (group in RIG_WHEN_RAISED and group in raised)
            source[group] = "rig" if use_rig else "field"
            factor[group] = g[group]
            out[idx] = (shipped if use_rig else facs)[idx] * factor[group]
        # AU 6 goes with AU 12 (a felt smile raises the cheeks); the analyser cannot see it
        # (cheekSquint is always 0): a smile drawn without its field carries the rig's
        if source["mouthSmile"] != "field":
            for smile, cheek in (("mouthSmileLeft", "cheekSquintLeft"),
                                 ("mouthSmileRight", "cheekSquintRight")):
                out[INDEX[smile]] += DUCHENNE * factor["mouthSmile"] * shipped[INDEX[cheek]]
        out.flags.writeable = False
        return cls(out, g, lowered)


def exercised(blendshapes: np.ndarray, group: str) -> bool:
    """Whether frames exercise a group: its level's spread over them (std, mean over its
    channels) is at least :data:`EXERCISED`. blendshapes: (T, 52) of the face frames."""
    b = np.asarray(blendshapes, np.float64)
    return len(b) > 1 and float(b[:, group_indices(group)].std(0).mean()) >= EXERCISED


def late_offsets(fit: TrackFit, landmarks: np.ndarray, blendshapes: np.ndarray,
                 groups: Collection[str]) -> dict[str, np.ndarray]:
    """The clip's own offsets of groups its fit's frames did not exercise, fitted on those
    frames plus later ones that show the groups (a grin that starts after the first
    seconds is then removed the way this face makes it, as one in the fit's frames is).

    Args:
        fit: the clip's fitted model (its frames are kept in it).
        landmarks: (T, 478, 3) later face frames' landmarks, pixels.
        blendshapes: (T, 52) their blendshapes.
        groups: the groups wanted.

    Returns:
        group -> (len(channels), 478, 3) float32 offsets (only the groups the frames
        together exercise).
    """
    from ned.facemodel.fit import fit_frames

    keep = np.asarray(fit.valid, bool)
    lm = np.concatenate([fit.landmarks[keep], np.asarray(landmarks, np.float32)])
    bs = np.concatenate([fit.expressions[keep], np.asarray(blendshapes, np.float32)])
    wanted = [g for g in groups if exercised(bs, g)]
    if not wanted:
        return {}
    offsets = fit_frames(lm, bs, fit.size).model.offsets
    return {g: np.array(offsets[group_indices(g)], np.float32) for g in wanted}


#: Share of the target table's level by which an edit at intensity 1 raises each of the
#: target's groups at least, whatever the face already shows: a face the analyser reads
#: near the target at rest (single_face's brows read browInnerUp 0.5 in his neutral face)
#: still moves visibly.
RISE_FLOOR = 0.6


def rise_floor(old: np.ndarray, new: np.ndarray, emotion: str | None,
               intensity: float) -> np.ndarray:
    """Raise each of the target's groups by at least :data:`RISE_FLOOR` of its table level
    (a group that is also a speech channel, ``ned.facs.SPEECH_GROUPS``, by exactly that).

    Args:
        old: (T, 52) measured blendshapes.
        new: (T, 52) translated blendshapes.
        emotion: the target emotion (None: a reference; nothing changes).
        intensity: the edit's intensity.

    Returns:
        (T, 52) float32.
    """
    out = np.array(new, np.float32, copy=True)
    for group, level in TARGETS.get(emotion or "", {}).items():
        idx = group_indices(group)
        rise = old[:, idx] + RISE_FLOOR * intensity * level
        # a speech channel's posture is a constant offset: the syllables keep their shape
        out[:, idx] = rise if group in SPEECH_GROUPS else np.maximum(out[:, idx], rise)
    return out


def emotion_posture(emotion: str | None, intensity: float) -> np.ndarray | None:
    """(478, 3) float32 cm: the fixed postures ``emotion`` sets at ``intensity``
    (``ned.facs.POSTURES``: a dropped jaw for surprise and fear, knitted brows for fear
    and sadness, a wrinkled nose for disgust), or None when it sets none."""
    from ned.facemodel.fields import posture_offsets

    levels = POSTURES.get(emotion or "", {})
    if not levels or intensity == 0:
        return None
    return intensity * sum((level * posture_offsets(name) for name, level in levels.items()),
                           np.zeros((tp.N_LANDMARKS, 3), np.float32))


#: Rounds of skin smoothing of the shipped rig's mouth offsets (fitted vertex by vertex,
#: they are uneven; scaled up by a gain, the lips' outline wobbles).
SMOOTHING = 3
SMOOTHED_GROUPS = ("mouthSmile", "mouthDimple", "mouthStretch", "mouthUpperUp")


def smoothed_rig(rig: Rig) -> np.ndarray:
    """(52, 478, 3) the rig's offsets of the emotion groups' channels smoothed over the
    skin (:func:`ned.facemodel.deform.smooth_field`); other rows as they are. Cached."""
    key = id(rig.offsets)
    if _SMOOTHED.get("key") != key:
        out = np.array(rig.offsets, np.float32, copy=True)
        idx = [i for g in SMOOTHED_GROUPS for i in group_indices(g)]
        out[idx] = smooth_field(out[idx], SMOOTHING)
        out.flags.writeable = False
        _SMOOTHED.update(key=key, offsets=out)
    return _SMOOTHED["offsets"]


_SMOOTHED: dict = {}


def edited_landmarks(fit: TrackFit, basis: ExpressionBasis, landmarks: np.ndarray,
                     old: np.ndarray, new: np.ndarray, gain: float = 1.0,
                     posture: np.ndarray | None = None,
                     posture_weight: np.ndarray | None = None) -> np.ndarray:
    """Measured landmarks moved from the measured to the edited expressions.

    Each frame's pose is estimated against the clip's fitted model; the displacement of
    ``basis`` between ``old`` and ``new`` (times ``gain``) is posed and added to the
    measured landmarks. An eyelid pushed past the other one stops where they meet.

    Args:
        fit: the clip's fitted model (:func:`ned.facemodel.fit.fit_frames`).
        basis: the edit's offsets.
        landmarks: (n, 478, 3) measured landmarks of frames with the face, pixels.
        old: (n, 52) measured blendshapes.
        new: (n, 52) edited blendshapes.
        gain: factor on the displacement.
        posture: (478, 3) cm, a posture of the speech's action units the edit adds
            (:func:`emotion_posture`), times ``posture_weight`` (n,) per frame.

    Returns:
        (n, 478, 3) float32 edited landmarks, pixels.
    """
    lm = np.asarray(landmarks, np.float32)
    if not len(lm):
        return lm.copy()
    b = np.clip(np.asarray(old, np.float64), 0.0, 1.0)   # the pose of the measured face
    pose, _ = normalise_clip(lm.astype(np.float64), b, fit.model.rig, fit.model.offsets,
                             fit.identity)
    delta = np.einsum("te,evc->tvc", np.asarray(new, np.float32) - np.asarray(old, np.float32),
                      basis.offsets)
    if posture is not None:
        w = np.ones(len(lm), np.float32) if posture_weight is None else posture_weight
        delta += np.asarray(w, np.float32)[:, None, None] * np.asarray(posture, np.float32)
    moved = lm + gain * pose.apply_vectors(delta)
    return close_lids(moved, lm)


def mixed_landmarks(fit: TrackFit, parts: list[tuple[ExpressionBasis, np.ndarray]],
                    landmarks: np.ndarray, old: np.ndarray, gain: float = 1.0,
                    posture: np.ndarray | None = None) -> np.ndarray:
    """Measured landmarks moved by several edits at once, each with its own offsets (a
    timeline's emotions, each calibrated for itself, and the controls):
    :func:`edited_landmarks` with the displacement ``sum_i delta_i @ basis_i``.

    Args:
        fit: the clip's fitted model.
        parts: (basis, (n, 52) blendshape change, strength already applied) pairs.
        landmarks: (n, 478, 3) measured landmarks of frames with the face, pixels.
        old: (n, 52) measured blendshapes.
        gain: factor on the displacement.
        posture: (n, 478, 3) cm, postures of the speech's action units per frame
            (weights applied), or None.

    Returns:
        (n, 478, 3) float32 edited landmarks, pixels.
    """
    lm = np.asarray(landmarks, np.float32)
    if not len(lm):
        return lm.copy()
    b = np.clip(np.asarray(old, np.float64), 0.0, 1.0)
    pose, _ = normalise_clip(lm.astype(np.float64), b, fit.model.rig, fit.model.offsets,
                             fit.identity)
    delta = np.zeros(lm.shape, np.float32)
    for basis, change in parts:
        delta += np.einsum("te,evc->tvc", np.asarray(change, np.float32), basis.offsets)
    if posture is not None:
        delta += np.asarray(posture, np.float32)
    moved = lm + gain * pose.apply_vectors(delta)
    return close_lids(moved, lm)


#: (upper, lower) inner-lip point pairs, from the right mouth corner to the left.
INNER_LIP_PAIRS = ((191, 95), (80, 88), (81, 178), (82, 87), (13, 14), (312, 317), (311, 402),
                   (310, 318), (415, 324))
#: Outer-lip points of each lip, right to left; they follow their lip's opening change.
UPPER_OUTER = (185, 40, 39, 37, 0, 267, 269, 270, 409)
LOWER_OUTER = (146, 91, 181, 84, 17, 314, 405, 321, 375)
#: How much of an inner lip's posture change its outer contour follows: a little more
#: than all of it, so lips that close also thin a little (a relaxed grin's lips would
#: otherwise thicken; measured on single_face: jawOpen r 0.915 at 1.0, 0.938 at 1.2).
OUTER_FOLLOW = 1.2


def mouth_down(points: np.ndarray) -> np.ndarray:
    """(T, 2) unit vector of the mouth's down axis (normal to the corner line, image y
    down). points: (T, 478, 2+) pixels."""
    a, b = points[:, tp.MOUTH_CORNER_RIGHT, :2], points[:, tp.MOUTH_CORNER_LEFT, :2]
    along = (b - a) / np.maximum(np.linalg.norm(b - a, axis=-1, keepdims=True), 1e-6)
    down = np.stack([-along[:, 1], along[:, 0]], -1)
    return down * np.sign(down[:, 1:2] + 1e-12)


def pair_openings(points: np.ndarray) -> np.ndarray:
    """(T, 9) opening of each inner-lip pair along the mouth's down axis, pixels.

    Args:
        points: (T, 478, 2+) landmarks, pixels.
    """
    up, low = np.array(INNER_LIP_PAIRS).T
    down = mouth_down(points)
    return ((points[:, low, :2] - points[:, up, :2]) * down[:, None]).sum(-1)


#: The lips' envelope's Gaussian reaches this many standard deviations.
ENVELOPE_TRUNCATE = 2.0


def lower_envelope(x: np.ndarray, width: int) -> np.ndarray:
    """The slow floor of a signal: its greyscale opening over ``width`` frames (a running
    minimum, then a running maximum of that: peaks narrower than the window, the
    syllables, are cut off, while a lasting change of level, a grin's lips parting, is
    followed where it happens), then a Gaussian of half the window's standard deviation
    (edges repeat the end values): the opening's steps would pass into the syllables'
    band (a box of a third of the window kept single_face's planned syllables at 0.57 of
    the source's under angry, sad and neutral; this one 0.70 to 0.75, and carphone's
    opening correlates 0.99 with its source's instead of 0.98).

    Args:
        x: (T, ...) along time.
        width: window in frames (>= 1).

    Returns:
        (T, ...) float64, at most ``x`` before the final smoothing.
    """
    from scipy.ndimage import gaussian_filter1d, maximum_filter1d, minimum_filter1d

    m = minimum_filter1d(np.asarray(x, np.float64), width, axis=0, mode="nearest")
    m = maximum_filter1d(m, width, axis=0, mode="nearest")
    return gaussian_filter1d(m, width / 2, axis=0, mode="nearest", truncate=ENVELOPE_TRUNCATE)


def envelope_reach(width: int) -> int:
    """Frames either side of a frame that :func:`lower_envelope` reads for it (its
    opening's two running windows and the Gaussian's reach)."""
    return 2 * (width // 2) + int(ENVELOPE_TRUNCATE * width / 2 + 0.5)


def posture_window(fps: float, seconds: float = 0.5) -> int:
    """Odd window in frames of the lips' posture (about ``seconds`` long, at least 3)."""
    return max(3, int(round(seconds * fps)) | 1)


def close_lips(src: np.ndarray, dst: np.ndarray, posture: np.ndarray,
               weight: np.ndarray) -> np.ndarray:
    """Close the lips' posture, keep their syllables.

    Per inner-lip pair, opening = source opening - ``weight`` x source posture: the lips
    meet between syllables (a grin's parted lips close for an angry, sad or neutral face)
    and open by each syllable as much as in the source. Each pair moves symmetrically
    about its midpoint along the mouth's down axis and the outer contour follows
    (:data:`OUTER_FOLLOW`), so the lips move as a whole.

    Args:
        src: (T, 478, 3) measured landmarks, pixels.
        dst: (T, 478, 3) edited landmarks of the same frames.
        posture: (T, 9) the source's posture per pair, pixels (:func:`lower_envelope` of
            :func:`pair_openings` over the frames' run of face frames).
        weight: (T,) edit strength in [0, 1].

    Returns:
        (T, 478, 3) float32 landmarks.
    """
    out = np.array(dst, np.float32, copy=True)
    if not len(out):
        return out
    want = np.maximum(pair_openings(np.asarray(src, np.float32))
                      - np.asarray(weight, np.float64)[:, None] * posture, 0.0)
    return _set_openings(out, want)


def _set_openings(out: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Give each inner-lip pair of ``out`` (T, 478, 3), in place, the opening ``want``
    (T, 9) pixels: the pair moves symmetrically about its midpoint along the mouth's down
    axis, the outer contour follows (:data:`OUTER_FOLLOW`). Returns ``out``."""
    fix = (0.5 * (want - pair_openings(out)))[..., None] * mouth_down(out)[:, None]
    up, low = np.array(INNER_LIP_PAIRS).T
    out[:, up, :2] -= fix
    out[:, low, :2] += fix
    nearest = np.round(np.linspace(0, len(up) - 1, len(UPPER_OUTER))).astype(int)
    out[:, list(UPPER_OUTER), :2] -= OUTER_FOLLOW * fix[:, nearest]
    out[:, list(LOWER_OUTER), :2] += OUTER_FOLLOW * fix[:, nearest]
    return out


#: Inner-lip openings (inter-ocular distances) at and below which the source's lips
#: touch (a syllable's closure: /p/, /b/, /m/), and over which an edit's added opening
#: fades in above that (:func:`keep_contact`).
CONTACT = 0.04
CONTACT_RAMP = 0.25


def keep_contact(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Lips that touch in the source touch in the edit: an opening the edit adds (a
    dropped jaw, a raised upper lip) fades out as the source's own opening falls to
    :data:`CONTACT`, so every syllable still closes; where the source's lips are apart by
    :data:`CONTACT` + :data:`CONTACT_RAMP` or more the whole added opening shows. Openings
    the edit narrows are left as they are.

    Args:
        src: (T, 478, 3) measured landmarks, pixels.
        dst: (T, 478, 3) edited landmarks of the same frames.

    Returns:
        (T, 478, 3) float32 landmarks.
    """
    out = np.array(dst, np.float32, copy=True)
    if not len(out):
        return out
    s = np.asarray(src, np.float32)
    o_src, o_dst = pair_openings(s), pair_openings(out)
    iod = np.maximum(tp.inter_ocular(s), 1e-6)[:, None]
    t = np.clip((o_src / iod - CONTACT) / CONTACT_RAMP, 0.0, 1.0)
    share = t * t * (3 - 2 * t)               # smooth from touching to apart
    added = np.maximum(o_dst - o_src, 0.0)
    return _set_openings(out, o_dst - (1 - share) * added)
