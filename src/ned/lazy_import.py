"""Importing heavy packages without the parts of them ned never uses.

MediaPipe's Python package imports ``matplotlib.pyplot`` (for its drawing helpers) and
``sounddevice`` (for its microphone helper) when it is imported, about 0.3 s of every
process's start that ned never uses. :func:`import_skipping` imports a module while such
modules are replaced by placeholders that import the real module on first use, so nothing
is lost: code that does use them gets the real thing.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Sequence


class _Deferred(types.ModuleType):
    """Stands for a module that is imported on first attribute access."""

    def __getattr__(self, name: str) -> object:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)


def import_skipping(module: str, deferred: Sequence[str]) -> types.ModuleType:
    """Import ``module`` with the modules ``deferred`` imported only when first used.

    Args:
        module: the module to import, e.g. ``"mediapipe.tasks.python"``.
        deferred: modules ``module`` imports but the caller never uses, e.g.
            ``["matplotlib.pyplot"]``; those already imported, or not installed, are
            imported as usual.

    Returns:
        The imported module. The placeholders are removed from ``sys.modules`` afterwards,
        so later imports of the deferred modules load them normally.
    """
    if module in sys.modules:
        return sys.modules[module]
    specs = {n: importlib.util.find_spec(n) for n in {d.partition(".")[0] for d in deferred}
             if n not in sys.modules}
    placed = []
    for name in deferred:
        top = name.partition(".")[0]
        if name in sys.modules or specs.get(top) is None:
            continue
        sys.modules[name] = placeholder = _Deferred(name)
        placeholder.__spec__ = specs.get(name)
        placed.append(name)
    for name in placed:  # `import a.b` reads b off a: a deferred parent must not load for it
        parent, _, child = name.rpartition(".")
        if parent in placed:
            setattr(sys.modules[parent], child, sys.modules[name])
    try:
        return importlib.import_module(module)
    finally:
        for name in placed:
            if isinstance(sys.modules.get(name), _Deferred):
                del sys.modules[name]
