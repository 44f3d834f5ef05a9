"""Deferred imports: a module imported with `import_skipping` does not load the deferred
modules, which still load, whole, on first use."""

import subprocess
import sys
import textwrap

import pytest

from ned.lazy_import import import_skipping


@pytest.fixture
def fake_packages(tmp_path, monkeypatch):
    """pkg_user imports heavy and heavy.sub at import time; both record being executed."""
    (tmp_path / "heavy").mkdir()
    (tmp_path / "heavy" / "__init__.py").write_text("import builtins\nbuiltins._ned_loaded = "
                                                    "getattr(builtins, '_ned_loaded', []) + "
                                                    "['heavy']\nVALUE = 1\n")
    (tmp_path / "heavy" / "sub.py").write_text("import builtins\nbuiltins._ned_loaded.append("
                                               "'heavy.sub')\ndef f():\n    return 42\n")
    (tmp_path / "pkg_user.py").write_text("import heavy.sub as hs\nimport heavy\n"
                                          "def use():\n    return hs.f() + heavy.VALUE\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import builtins
    monkeypatch.setattr(builtins, "_ned_loaded", [], raising=False)
    yield builtins
    for name in ("pkg_user", "heavy", "heavy.sub"):
        sys.modules.pop(name, None)


def test_deferred_modules_load_on_first_use(fake_packages):
    user = import_skipping("pkg_user", ["heavy", "heavy.sub", "not_installed_pkg.x"])
    assert fake_packages._ned_loaded == []            # imported, nothing heavy executed
    assert "heavy" not in sys.modules and "heavy.sub" not in sys.modules
    assert user.use() == 43                            # first use loads the real modules
    assert fake_packages._ned_loaded == ["heavy", "heavy.sub"]
    import heavy.sub
    assert heavy.sub.f() == 42 and sys.modules["heavy.sub"] is heavy.sub


def test_already_imported_modules_are_kept(fake_packages):
    import heavy
    user = import_skipping("pkg_user", ["heavy"])
    assert user.heavy is heavy and user.use() == 43


def test_mediapipe_without_matplotlib_and_sounddevice():
    code = textwrap.dedent("""
        import sys
        from ned.analysis.landmarker import tasks_api
        mpt = tasks_api()
        assert mpt.vision.FaceLandmarker is not None
        skipped = [m for m in ("matplotlib", "matplotlib.pyplot", "sounddevice")
                   if m in sys.modules]
        assert not skipped, skipped
        from mediapipe.tasks.python.vision import drawing_utils
        import matplotlib.pyplot as plt
        assert drawing_utils.plt.figure is plt.figure   # the placeholder reaches pyplot
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]
