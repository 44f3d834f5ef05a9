"""Names of the 52 expression channels of the MediaPipe backend (ARKit blendshapes).

Index 0 (``_neutral``) is MediaPipe's own extra output; the other 51 are ARKit names.
"""

from __future__ import annotations

BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
    "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft",
    "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight",
    "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft",
    "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen",
    "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower",
    "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight",
    "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight",
)
N_BLENDSHAPES = len(BLENDSHAPE_NAMES)
INDEX = {name: i for i, name in enumerate(BLENDSHAPE_NAMES)}

#: The seven emotion domains, in the reference implementation's order.
EMOTIONS: tuple[str, ...] = ("neutral", "angry", "disgusted", "fear", "happy", "sad",
                             "surprised")
#: Intensity of an emotion edit: 0 = the clip's own style, 1 = the target, 1.5 at most.
INTENSITY_RANGE = (0.0, 1.5)


def index_of(name: str) -> int:
    """Index of a blendshape by name; raises KeyError with the valid names listed."""
    try:
        return INDEX[name]
    except KeyError:
        raise KeyError(f"unknown blendshape {name!r}") from None
