"""Named expression controls: direct the face by hand, on top of an emotion or alone.

A control is a number in [-1, 1]. Each expression control moves one channel group of the
target table (``ned.facs.GROUPS``) by its posed level (the level the group's FACS field
is written at, :mod:`ned.facemodel.fields`): ``smile=1`` adds a clearly posed smile to
whatever the face shows, ``smile=-1`` takes that much away (a grin is removed; past the
face's own level the corners move the other way). They add to the edited blendshapes of
an emotion edit (or to the measured ones when there is no emotion), so they ride the same
geometry, guards and fold-free step. The speech is protected as in an emotion edit: a
control is a slow posture (constant, or changing along a timeline's keyframes), never
the syllables' motion; ``upper_lip_raise`` moves mouthUpperUp, a speech channel, as a
posture only.

The gaze controls move each iris inside its eye opening (a fraction of the eye's width,
in the image's directions: ``gaze_right=1`` looks towards the image's right edge), drawn by
:class:`ned.editing.gaze.GazeRenderer` over the warp.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ned.errors import NedError
from ned.facs import group_indices


@dataclass(frozen=True)
class Control:
    """One named control.

    Attributes:
        name: its name (``--adjust name=value``).
        group: the channel group it moves (None: a gaze control).
        level: the group's blendshape change at +1 (its posed level).
        help: what +1 and -1 do.
    """

    name: str
    group: str | None
    level: float
    help: str


#: The controls, in display order.
CONTROLS: tuple[Control, ...] = (
    Control("smile", "mouthSmile", 0.75, "+1 a posed smile (AU 12 + 6); -1 removes one"),
    Control("frown", "mouthFrown", 0.6, "+1 lip corners pulled down (AU 15 + 17)"),
    Control("brow_raise_inner", "browInnerUp", 0.7, "+1 inner brows raised (AU 1)"),
    Control("brow_raise_outer", "browOuterUp", 0.7, "+1 outer brows raised (AU 2)"),
    Control("brow_lower", "browDown", 0.7, "+1 brows lowered and drawn together (AU 4)"),
    Control("eyes_wide", "eyeWide", 0.5, "+1 upper lids raised (AU 5)"),
    Control("squint", "eyeSquint", 0.4, "+1 lower lids raised (AU 7)"),
    Control("upper_lip_raise", "mouthUpperUp", 0.6,
            "+1 upper lip raised (AU 10), a posture: the syllables keep their motion"),
    Control("lip_press", "mouthPress", 0.4, "+1 lips pressed and thinned (AU 23/24)"),
    Control("lip_stretch", "mouthStretch", 0.4, "+1 lips stretched sideways (AU 20)"),
    Control("gaze_right", None, 0.25,
            "+1 both irises a quarter of the eye's width towards the image's right; -1 left"),
    Control("gaze_up", None, 0.12, "+1 both irises an eighth of the eye's width up; -1 down"),
)
BY_NAME: dict[str, Control] = {c.name: c for c in CONTROLS}
NAMES: tuple[str, ...] = tuple(BY_NAME)
#: Other names accepted for a control: name -> (control, sign).
ALIASES: dict[str, tuple[str, float]] = {"gaze_left": ("gaze_right", -1.0),
                                         "gaze_down": ("gaze_up", -1.0)}
#: Controls that move the irises rather than a channel group.
GAZE: tuple[str, ...] = tuple(c.name for c in CONTROLS if c.group is None)


def normalise(controls: Mapping[str, float] | Iterable[tuple[str, float]] | None,
              keep_zeros: bool = False) -> tuple[tuple[str, float], ...]:
    """Controls as a sorted tuple of (name, value) pairs, aliases resolved and zeros
    dropped; raises NedError naming an unknown control or a value outside [-1, 1].

    Args:
        controls: name -> value, or (name, value) pairs (None: none).
        keep_zeros: keep controls set to 0 (a keyframe bringing a control back to 0).
    """
    if controls is None:
        return ()
    items = controls.items() if isinstance(controls, Mapping) else controls
    out: dict[str, float] = {}
    for item in items:
        try:
            name, value = item
        except (TypeError, ValueError):
            raise NedError(f"a control must be a name and a value, got {item!r}") from None
        if not isinstance(name, str):
            raise NedError(f"a control's name must be a string, got {name!r}")
        sign = 1.0
        if name in ALIASES:
            name, sign = ALIASES[name]
        if name not in BY_NAME:
            raise NedError(f"unknown control {name!r}; choose from {', '.join(NAMES)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise NedError(f"control {name} must be a finite number, got {value!r}")
        if not -1.0 <= value <= 1.0:
            raise NedError(f"control {name} = {value:g} is outside [-1, 1]")
        if name in out:
            raise NedError(f"control {name} is given twice")
        out[name] = sign * float(value)
    return tuple(sorted((k, v) for k, v in out.items() if keep_zeros or v != 0.0))


def parse_adjust(text: str) -> tuple[tuple[str, float], ...]:
    """The CLI's ``--adjust smile=0.5,brow_lower=0.3`` as normalised controls."""
    pairs = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, eq, value = part.partition("=")
        if not eq:
            raise NedError(f"--adjust takes name=value pairs, got {part!r}")
        try:
            number = float(value)
        except ValueError:
            raise NedError(f"--adjust {name.strip()}: {value.strip()!r} is not a number") \
                from None
        pairs.append((name.strip(), number))
    return normalise(pairs)


def control_groups(names: Iterable[str]) -> frozenset[str]:
    """The channel groups the named controls move (gaze controls move none)."""
    return frozenset(BY_NAME[n].group for n in names if BY_NAME[n].group is not None)


def blendshape_delta(values: np.ndarray, names: tuple[str, ...] = NAMES) -> np.ndarray:
    """(T, 52) float32 change of the blendshapes that controls make.

    Args:
        values: (T, len(names)) control values in [-1, 1].
        names: the controls, in the columns' order.
    """
    values = np.asarray(values, np.float32)
    out = np.zeros((len(values), 52), np.float32)
    for k, name in enumerate(names):
        c = BY_NAME[name]
        if c.group is not None:
            out[:, group_indices(c.group)] += (c.level * values[:, k])[:, None]
    return out


def describe(controls: Iterable[tuple[str, float]]) -> str:
    """``smile=0.5,brow_lower=0.3``: controls as the CLI writes them."""
    return ",".join(f"{k}={v:g}" for k, v in controls)
