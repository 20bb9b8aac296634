"""``arinsights._parallel.together`` runs independent steps side by side and behaves exactly
like running them one after the other: results in step order, and the first failing step's
error (in step order) once every step has finished. The cleaning gives identical tables
whether its steps run on threads or not."""

import threading
import time

import pandas as pd
import pytest

import arinsights._parallel as par
from arinsights._parallel import together


def test_results_come_back_in_step_order_from_two_threads(monkeypatch):
    monkeypatch.setattr(par, "_workers", lambda: 1)
    seen = []

    def step(name, wait):
        def run():
            time.sleep(wait)
            seen.append(threading.current_thread().name)
            return name
        return run

    # the slow step first: its result still comes first
    assert together(step("a", 0.05), step("b", 0.0), step("c", 0.0), rows=par.MIN_ROWS) == ("a", "b", "c")
    assert any(n.startswith("arinsights") for n in seen), "no step ran on the pool"
    assert threading.current_thread().name in seen, "the first step runs in the caller's thread"


def test_small_inputs_run_one_after_the_other():
    names = []
    together(lambda: names.append(threading.current_thread().name),
             lambda: names.append(threading.current_thread().name), rows=par.MIN_ROWS - 1)
    assert names == [threading.current_thread().name] * 2


def test_the_first_failing_step_raises_after_all_steps_finished(monkeypatch):
    monkeypatch.setattr(par, "_workers", lambda: 1)
    done = []

    def slow_ok():
        time.sleep(0.05)
        done.append("slow")
        return 1

    def fails(msg):
        def run():
            raise ValueError(msg)
        return run

    with pytest.raises(ValueError, match="second"):
        together(slow_ok, fails("second"), fails("third"), rows=par.MIN_ROWS)
    assert done == ["slow"]
    with pytest.raises(ValueError, match="first"):
        together(fails("first"), slow_ok, rows=par.MIN_ROWS)
    assert done == ["slow", "slow"]  # the step on the pool finished before the error was raised


def test_steps_nested_in_a_pool_step_run_in_that_thread(monkeypatch):
    monkeypatch.setattr(par, "_workers", lambda: 1)
    inner = []

    def outer():
        return together(lambda: inner.append(threading.current_thread().name) or 1,
                        lambda: inner.append(threading.current_thread().name) or 2, rows=par.MIN_ROWS)

    assert together(lambda: 0, outer, rows=par.MIN_ROWS) == (0, (1, 2))
    assert len(set(inner)) == 1 and inner[0].startswith("arinsights")


def test_cleaning_is_the_same_on_threads_and_in_sequence(monkeypatch, sample_dir):
    from arinsights.ingest.ledger import load_ledger
    path = sample_dir / "ledger.csv"
    monkeypatch.setattr(par, "MIN_ROWS", 10 ** 12)
    one = load_ledger(path)
    monkeypatch.setattr(par, "MIN_ROWS", 0)
    monkeypatch.setattr(par, "_workers", lambda: 1)
    calls = []
    real = par.ThreadPoolExecutor.submit
    monkeypatch.setattr(par.ThreadPoolExecutor, "submit", lambda self, fn: calls.append(fn) or real(self, fn))
    two = load_ledger(path)
    assert calls, "no step ran on a thread"
    for name in ("invoices", "payments", "rejects", "merged"):
        pd.testing.assert_frame_equal(getattr(one, name), getattr(two, name))
