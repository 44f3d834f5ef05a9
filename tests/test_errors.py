"""ned.errors: one-line errors, warnings, and signals that stop a run cleanly."""

import os
import signal
import threading

import pytest

from ned.errors import Interrupted, NedWarning, signals_as_interrupt, warn


def test_warn_is_a_ned_warning():
    with pytest.warns(NedWarning, match="something changed"):
        warn("something changed")


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_stop_signals_raise_interrupted_inside_the_block(name):
    sig = getattr(signal, name)
    before = signal.getsignal(sig)
    with pytest.raises(Interrupted) as e, signals_as_interrupt():
        os.kill(os.getpid(), sig)
        for _ in range(100):  # the handler runs between bytecodes
            pass
    assert e.value.signum == sig and e.value.name == name
    assert isinstance(e.value, KeyboardInterrupt)
    assert signal.getsignal(sig) == before


def test_a_host_programs_handler_is_kept():
    seen = []
    old = signal.signal(signal.SIGTERM, lambda *a: seen.append(a[0]))
    try:
        with signals_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(100):
                pass
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, old)


def test_outside_the_main_thread_nothing_changes():
    errors = []

    def work():
        try:
            with signals_as_interrupt():
                pass
        except Exception as e:  # pragma: no cover - the failure being tested
            errors.append(e)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert errors == []
