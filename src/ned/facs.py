"""What each emotion looks like, in the analyser's terms: the target table of an edit.

The six basic emotions' EMFACS prototypes (Ekman & Friesen), written as levels of the
MediaPipe blendshape channels that carry their action units (AU -> channel:
docs/expressions.md). Levels are for a clearly posed expression (FACS intensity C-D) at
intensity 1; an edit brings the target's groups to these levels and every other emotion's
groups down to :data:`REST`, and keeps the speech channels' motion. (AU 4 is left out of
sad and fear: a lowered brow, drawn on the same brow as the raise, cancels it; measured,
docs/expressions.md. Angry keeps AU 5, the glare: the upper lids raised under the lowered
brows.)

A group is the mean of its channels (left / right pairs move together). Four groups
cannot be checked by re-measuring the output with the analyser (measured, see
docs/expressions.md): mouthFrown is dead in practice (0.00-0.02 whatever the corners do),
mouthPress does not respond to a warped mouth (at most 0.11), and eyeWide needs an
upper-lid raise larger than the whole eye opening; browDown reads the whole brow's height,
not a frown (the inner ends down and together, the outer ends still, which a viewer and
both emotion classifiers read as anger: 0.11-0.13 re-measured at 0.2 IOD). For them
:data:`GEOMETRIC_FLOORS` gives
the geometric equivalent in inter-ocular distances (IOD), measured on the re-detected
landmarks.
"""

from __future__ import annotations

from ned.blendshapes import INDEX

#: Channel groups of the emotion edit: group -> its channels.
GROUPS: dict[str, tuple[str, ...]] = {
    "browDown": ("browDownLeft", "browDownRight"),
    "browInnerUp": ("browInnerUp",),
    "browOuterUp": ("browOuterUpLeft", "browOuterUpRight"),
    "eyeSquint": ("eyeSquintLeft", "eyeSquintRight"),
    "eyeWide": ("eyeWideLeft", "eyeWideRight"),
    "mouthSmile": ("mouthSmileLeft", "mouthSmileRight"),
    "mouthDimple": ("mouthDimpleLeft", "mouthDimpleRight"),
    "mouthFrown": ("mouthFrownLeft", "mouthFrownRight"),
    "mouthPress": ("mouthPressLeft", "mouthPressRight"),
    "mouthStretch": ("mouthStretchLeft", "mouthStretchRight"),
    "mouthUpperUp": ("mouthUpperUpLeft", "mouthUpperUpRight"),
}
#: Groups that are also speech channels: an edit sets their posture (slow level), never
#: their motion.
SPEECH_GROUPS = ("mouthUpperUp",)

#: Target levels at intensity 1: emotion -> {group: level}. Groups not named go to REST.
TARGETS: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"mouthSmile": 0.75, "eyeSquint": 0.4},                          # AU 6 + 12
    "sad": {"browInnerUp": 0.6, "mouthFrown": 0.6},                           # AU 1 + 15
    "angry": {"browDown": 0.7, "eyeSquint": 0.4, "eyeWide": 0.5,              # AU 4 + 7 + 5
              "mouthPress": 0.4},                                             #  + 23/24
    "surprised": {"browInnerUp": 0.7, "browOuterUp": 0.7, "eyeWide": 0.5},    # AU 1 + 2 + 5
    "fear": {"browInnerUp": 0.7, "browOuterUp": 0.3, "eyeWide": 0.5,          # AU 1 + 2 + 5
             "mouthStretch": 0.4},                                            #  + 20
    "disgusted": {"mouthUpperUp": 0.6, "browDown": 0.4, "eyeSquint": 0.3},    # AU 9/10 + 4
}
#: The level every group of the other emotions is lowered to (never raised).
REST = 0.03
#: Emotions whose lips meet between syllables (a grin's parted lips close); the others
#: keep the lips' posture their geometry gives them.
LIPS_CLOSED = ("neutral", "angry", "sad")

#: Postures an emotion sets at a fixed size, not chased by the calibration: those of the
#: speech's own action units (the syllables ride on them) and those the analyser cannot
#: measure. emotion -> {posture field (``ned.facemodel.fields.POSTURE_FIELDS``): level at
#: intensity 1}. Surprise and fear drop the jaw (AU 26/25: the mouth hangs open between
#: syllables); the speech's motion (jaw and lips opening and closing) is the source's.
#: Disgust wrinkles the nose (AU 9; noseSneer is a dead output of the analyser). Fear and
#: sadness knit the raised inner brows (AU 4's medial pull without its lowering: a lowered
#: brow cancels AU 1, and browDown reads the brow's height, not the pull).
POSTURES: dict[str, dict[str, float]] = {
    "surprised": {"jawDrop": 1.0},
    "fear": {"jawDrop": 0.5, "browTogether": 1.0},
    "sad": {"browTogether": 1.0},
    "disgusted": {"noseWrinkle": 1.0},
}

#: Emotions whose posture opens the mouth (a dropped jaw, a raised upper lip): the warp
#: shows a mouth interior in the opening instead of stretching the lips over it.
OPENS_MOUTH = tuple(e for e in TARGETS
                    if "jawDrop" in POSTURES.get(e, {})
                    or any(g in SPEECH_GROUPS for g in TARGETS[e]))

#: The least an edit at intensity 1 must show, re-measured on the output (the project's
#: acceptance floor; TARGETS sit at or above it).
FLOORS: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"mouthSmile": 0.7, "eyeSquint": 0.3},
    "sad": {"browInnerUp": 0.5},
    "angry": {"browDown": 0.6, "eyeSquint": 0.3, "mouthPress": 0.3},
    "surprised": {"browInnerUp": 0.6, "browOuterUp": 0.6, "eyeWide": 0.4},
    "fear": {"browInnerUp": 0.6, "eyeWide": 0.4, "mouthStretch": 0.3},
    "disgusted": {"mouthUpperUp": 0.5, "browDown": 0.3},
}
#: The most an edit may leave of another emotion, re-measured (a grin is removed).
CEILINGS: dict[str, dict[str, float]] = {
    "neutral": {"mouthSmile": 0.2}, "angry": {"mouthSmile": 0.2}, "sad": {"mouthSmile": 0.2},
    "fear": {"mouthSmile": 0.3}, "surprised": {"mouthSmile": 0.3},
    "disgusted": {"mouthSmile": 0.3},
}

#: Groups the analyser cannot verify, and their geometric floor at intensity 1:
#: group -> (measure, IOD). The measures are computed by ``ned.metrics.expression``.
GEOMETRIC_FLOORS: dict[str, tuple[str, float]] = {
    "mouthFrown": ("corners_down", 0.05),    # mouth corners lowered against the nose
    "mouthPress": ("lips_thinned", 0.03),    # upper + lower vermilion thinner, closed at rest
    "eyeWide": ("upper_lid_up", 0.03),       # upper lid raised against the eye corners
    "browDown": ("inner_brow_down", 0.06),   # the frown's inner brows lowered
}


def group_indices(group: str) -> list[int]:
    """Blendshape indices of a group's channels."""
    if group not in GROUPS:
        raise KeyError(f"unknown channel group {group!r}; choose one of {', '.join(GROUPS)}")
    return [INDEX[c] for c in GROUPS[group]]


def emotion_groups(emotion: str) -> dict[str, float]:
    """Target level of every group for ``emotion``: its own levels, REST for the others."""
    if emotion not in TARGETS:
        raise KeyError(f"unknown emotion {emotion!r}")
    return {g: TARGETS[emotion].get(g, REST) for g in GROUPS}
