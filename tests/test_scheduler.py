"""The jobs are quiet when healthy and say one clear line when not (relay/scheduler.py)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest

from relay.db import Database
from relay.errors import StorefrontError
from relay.runtime import Runtime
from relay.scheduler import Worker, guarded, paced
from tests.conftest import free_port, make_settings

SCHEDULER_LOG = "relay.scheduler"


def failing_then_working(failures: int, error: Exception) -> Callable[[], None]:
    runs = {"n": 0}

    def job() -> None:
        runs["n"] += 1
        if runs["n"] <= failures:
            raise error

    return job


def records(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == SCHEDULER_LOG and r.levelno >= level]


def test_an_outage_is_one_warning_while_it_lasts_and_one_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=SCHEDULER_LOG)
    run = guarded("reconcile:shop", failing_then_working(5, StorefrontError("store unreachable")))
    for _ in range(8):
        run()
    lines = records(caplog)
    assert [r.getMessage() for r in lines] == [
        "job reconcile:shop failing, retrying on its next tick: StorefrontError: store unreachable",
        "job reconcile:shop recovered after 5 failed runs",
    ]
    assert all(r.exc_info is None for r in lines)


def test_a_changed_failure_is_said_again(caplog: pytest.LogCaptureFixture) -> None:
    errors = iter([StorefrontError("timeout"), StorefrontError("timeout"), StorefrontError("503")])

    def job() -> None:
        raise next(errors)

    run = guarded("deliver", job)
    for _ in range(3):
        run()
    assert [r.getMessage().rsplit(": ", 1)[1] for r in records(caplog, logging.WARNING)] == [
        "timeout",
        "503",
    ]


def test_an_unexpected_error_gets_its_traceback_once(caplog: pytest.LogCaptureFixture) -> None:
    run = guarded("sweep", failing_then_working(3, KeyError("status")))
    for _ in range(3):
        run()
    lines = records(caplog, logging.WARNING)
    assert len(lines) == 1 and lines[0].levelno == logging.ERROR
    assert lines[0].exc_info is not None


def test_an_unreachable_store_is_one_warning_without_a_traceback(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(store_url=f"http://127.0.0.1:{free_port()}", reconcile_seconds=60)
    runtime = Runtime(settings, db)
    try:
        run = guarded("reconcile:shop", lambda: Worker(runtime).reconcile("shop"))
        for _ in range(3):
            run()
    finally:
        runtime.close()
    lines = records(caplog, logging.WARNING)
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].getMessage().startswith("job reconcile:shop failing")
    assert lines[0].exc_info is None


def test_a_watcher_slower_than_its_chain_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    delays = iter([0.0, 0.12, 0.12, 0.12, 0.0, 0.0])
    run = paced("scan:dev", 0.05, lambda: time.sleep(next(delays)))
    for _ in range(6):
        run()
    lines = [r.getMessage() for r in records(caplog, logging.WARNING)]
    assert len(lines) == 2, lines
    assert lines[0].startswith("job scan:dev took ")
    assert lines[0].endswith(" s, longer than its 0.05 s interval")
    assert lines[1] == "job scan:dev keeps its 0.05 s interval again"


def test_apscheduler_skipped_runs_are_not_warnings(caplog: pytest.LogCaptureFixture) -> None:
    import relay.scheduler  # noqa: F401  (installs the filter)

    logging.getLogger("apscheduler.scheduler").warning(
        'Execution of job "%s" skipped: maximum number of running instances reached (%d)',
        "deliver",
        1,
    )
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
