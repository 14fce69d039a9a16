"""The report cache: a key computed once per state of the log, even when several
requests miss it at once, and a failed computation stores nothing."""

from __future__ import annotations

import threading
import time

import pytest

from dronedeal.api.cache import Figures


def test_requests_that_miss_together_compute_once() -> None:
    figures = Figures()
    release = threading.Event()
    computed: list[int] = []

    def compute() -> str:
        computed.append(1)
        assert release.wait(10)
        return "report"

    answers: list[str] = []
    threads = [threading.Thread(target=lambda: answers.append(
        figures.at_size(7).get(("position", "ua-us-2025"), compute))) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # every thread has missed by now: one computes, three wait
    release.set()
    for thread in threads:
        thread.join(10)
    assert answers == ["report"] * 4
    assert computed == [1]
    assert figures.at_size(7).find(("position", "ua-us-2025")) == "report"


def test_a_grown_log_misses_and_a_failure_stores_nothing() -> None:
    figures = Figures()
    assert figures.at_size(7).get(("k",), lambda: 1) == 1
    assert figures.at_size(7).get(("k",), lambda: 2) == 1
    assert figures.at_size(8).find(("k",)) is None

    def broken() -> int:
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        figures.at_size(8).get(("k",), broken)
    assert figures.at_size(8).find(("k",)) is None
    assert figures.at_size(8).get(("k",), lambda: 3) == 3


def test_the_cache_holds_at_most_its_capacity() -> None:
    figures = Figures(capacity=2)
    for size in range(3):
        figures.at_size(size).get(("k",), lambda: "x")
    assert figures.at_size(0).find(("k",)) is None
    assert figures.at_size(2).find(("k",)) == "x"
