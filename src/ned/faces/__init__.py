"""ned.faces: which faces a clip shows (``ned faces``), so ``--face-index`` is chosen by
looking: :func:`ned.faces.find.find_faces`."""
