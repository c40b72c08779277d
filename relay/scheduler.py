"""Run the relay's jobs: watchers (one per chain), expiry sweep and reconciliation with
APScheduler; the inbox and the delivery job on threads of their own (`DrainLoop`) that run at
once when woken (`Worker.wake_inbox` by the webhook route, `Worker.wake_delivery` after a watcher
tick or an opened invoice) and on a short poll otherwise. The jobs use the adapters of one Runtime
(relay/runtime.py).

Quiet when healthy, one clear line when not: a job that starts failing logs one warning (a
traceback only for an error the relay did not expect), stays quiet while it keeps failing, and
logs one line when it recovers; a watcher slower than its chain's `poll_seconds` says so once,
and again once it keeps up (APScheduler's own "skipped: maximum number of running instances"
line, which is what `max_instances=1` means to do, goes to debug).

The loop threads start and stop with the scheduler (its start and shutdown events), so callers
only start and shut down the scheduler `build_scheduler` returns.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN, EVENT_SCHEDULER_STARTED, SchedulerEvent
from apscheduler.schedulers.background import BackgroundScheduler
from requests import RequestException
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from relay.delivery import deliver_due
from relay.errors import ChainError, ChainUnavailable, RelayError, StorefrontError
from relay.inbox import open_all
from relay.models import utcnow
from relay.reconcile import reconcile_store
from relay.runtime import Runtime
from relay.settings import ChainSettings
from relay.watcher import scan_once, sweep_expired

log = logging.getLogger(__name__)

DELIVERY_SECONDS = 1.0  # how often the outbox is polled when nothing wakes it (another process)
SWEEP_SECONDS = 5.0
INBOX_SECONDS = 1.0  # how often the inbox is polled when nothing wakes it (another process)
# Failures of the outside world (a node, a store, a rate source, the database going away): one
# warning line with the reason, no traceback. Anything else is a bug and gets its traceback once.
OUTAGES: tuple[type[Exception], ...] = (
    ChainError,
    StorefrontError,
    RelayError,
    RequestException,
    OperationalError,
    OSError,
    TimeoutError,
)


class Worker:
    """The relay's jobs over one Runtime's adapters (relay/runtime.py): inbox, watchers,
    delivery, reconciliation and the expiry sweep; `scheduler` is set by `build_scheduler`."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.db = runtime.db
        self.scheduler: BackgroundScheduler | None = None
        self.unreachable: set[str] = set()  # chains whose last watcher tick found no node
        self.inbox = DrainLoop("relay-inbox", guarded("inbox", self.open_inbox), INBOX_SECONDS)
        self.delivery = DrainLoop(
            "relay-delivery", guarded("deliver", self.deliver), DELIVERY_SECONDS
        )

    def open_inbox(self) -> None:
        """Open the invoices of queued orders until none is due, then wake the delivery job."""
        runtime = self.runtime
        notify = runtime.sender.tell_merchant
        if open_all(self.db, self.settings, runtime.rates, runtime.address_usage, notify):
            self.wake_delivery()  # the payment link goes out now, not on the job's next tick

    def wake_inbox(self) -> None:
        """Run the inbox at once (called by the webhook route after it queued an order)."""
        self.inbox.wake()

    def scan(self, chain: ChainSettings) -> None:
        """Run one watcher tick for a chain, then wake the delivery job (bench: latency).

        A node outage is one warning when it starts and one when the chain answers again, not
        a traceback per tick; the tick that failed recorded nothing and the next one redoes it.
        """
        try:
            scan_once(self.db, self.settings, chain, self.runtime.chains[chain.name], utcnow())
        except ChainUnavailable as exc:
            if chain.name not in self.unreachable:
                log.warning("%s: watcher paused, the chain did not answer: %s", chain.name, exc)
            self.unreachable.add(chain.name)
            return
        if chain.name in self.unreachable:
            self.unreachable.discard(chain.name)
            log.warning("%s: the chain answers again; watcher resumed", chain.name)
        self.wake_delivery()  # a settled invoice's push goes out now, not on the next tick

    def wake_delivery(self) -> None:
        """Run the delivery job at once (cheap; a wake while it runs makes it run once more)."""
        self.delivery.wake()

    def deliver(self) -> None:
        """Send what is due in the outbox."""
        while deliver_due(self.db, self.settings, self.runtime.sender) > 0:
            pass

    def reconcile(self, store: str) -> None:
        """Poll one store for orders without invoices and orders that drifted."""
        runtime = self.runtime
        reconcile_store(
            self.db,
            self.settings,
            store,
            runtime.storefronts,
            utcnow(),
            runtime.rates,
            runtime.address_usage,
        )

    def sweep(self) -> None:
        """Expire invoices whose window closed."""
        sweep_expired(self.db, self.settings, utcnow())


class DrainLoop:
    """Run `drain` on a daemon thread named `name`: at once when woken, else every `seconds`.

    A wake while `drain` runs makes it run once more, so no queued order or due delivery waits
    for the poll, and a drain never overlaps itself.
    """

    def __init__(self, name: str, drain: Callable[[], None], seconds: float) -> None:
        self._name = name
        self._drain = drain
        self._seconds = seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """Ask for a drain now (cheap; safe from any thread)."""
        self._wake.set()

    def start(self) -> None:
        """Start the thread (idempotent)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread after its current drain (waits up to `timeout` seconds)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._drain()
            self._wake.wait(self._seconds)
            self._wake.clear()


class JobHealth:
    """Log a job's failures as a person would want to read them: one warning when it starts
    failing (with a traceback only for an unexpected error), nothing while it keeps failing the
    same way, one line when the failure changes, and one when it recovers."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.failing: str | None = None  # the current failure's one-line description
        self.failures = 0

    def failed(self, exc: Exception) -> None:
        """Record one failed run."""
        self.failures += 1
        reason = f"{type(exc).__name__}: {exc}"
        if reason == self.failing:
            log.debug("job %s still failing (%d runs): %s", self.name, self.failures, reason)
            return
        self.failing = reason
        if isinstance(exc, OUTAGES):
            log.warning("job %s failing, retrying on its next tick: %s", self.name, reason)
        else:
            log.exception("job %s failed, retrying on its next tick", self.name)

    def succeeded(self) -> None:
        """Record one run that finished."""
        if self.failing is not None:
            log.warning("job %s recovered after %d failed runs", self.name, self.failures)
        self.failing, self.failures = None, 0


def guarded(name: str, job: Callable[[], None]) -> Callable[[], None]:
    """Return `job` made safe to schedule: it never raises, and logs through a JobHealth."""
    health = JobHealth(name)

    def run() -> None:
        try:
            job()
        except (IntegrityError, StaleDataError) as exc:
            # another worker changed the same rows first; its work stands, this tick is redone
            log.info("job %s yielded to another worker (%s); next tick", name, type(exc).__name__)
        except Exception as exc:
            # a job must survive a node or storefront outage; the next tick tries again
            health.failed(exc)
        else:
            health.succeeded()

    return run


def paced(name: str, seconds: float, job: Callable[[], None]) -> Callable[[], None]:
    """Return `job` that says once when a run takes longer than its interval (`seconds`), and
    once when runs fit again: the sign that a watcher falls behind its chain."""
    behind = False

    def run() -> None:
        nonlocal behind
        started = time.monotonic()
        job()
        took = time.monotonic() - started
        if took > seconds and not behind:
            log.warning("job %s took %.2f s, longer than its %.2f s interval", name, took, seconds)
        elif took <= seconds and behind:
            log.warning("job %s keeps its %.2f s interval again", name, seconds)
        behind = took > seconds

    return run


class _SkippedRunFilter(logging.Filter):
    """Move APScheduler's "skipped: maximum number of running instances reached" to debug: with
    max_instances=1 and coalesce a skipped overlap is the design; `paced` reports real lag."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "maximum number of running instances reached" in record.getMessage():
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


logging.getLogger("apscheduler.scheduler").addFilter(_SkippedRunFilter())


def build_scheduler(worker: Worker) -> BackgroundScheduler:
    """Return a scheduler (not started) with every job; each job runs one at a time (the inbox
    and delivery loops start and stop with it)."""
    scheduler = BackgroundScheduler(timezone="UTC")
    worker.scheduler = scheduler

    def loops_follow(event: SchedulerEvent) -> None:
        for loop in (worker.inbox, worker.delivery):
            if event.code == EVENT_SCHEDULER_STARTED:
                loop.start()
            else:
                loop.stop()

    scheduler.add_listener(loops_follow, EVENT_SCHEDULER_STARTED | EVENT_SCHEDULER_SHUTDOWN)
    options = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
    for chain in worker.settings.chains.values():
        name = f"scan:{chain.name}"
        scheduler.add_job(
            guarded(name, paced(name, chain.poll_seconds, partial(worker.scan, chain))),
            "interval",
            seconds=chain.poll_seconds,
            id=f"scan:{chain.name}",
            next_run_time=utcnow(),
            **options,
        )
    for store in worker.settings.stores.values():
        if store.reconcile_seconds > 0:
            scheduler.add_job(
                guarded(f"reconcile:{store.name}", partial(worker.reconcile, store.name)),
                "interval",
                seconds=store.reconcile_seconds,
                id=f"reconcile:{store.name}",
                next_run_time=utcnow(),
                **options,
            )
    scheduler.add_job(
        guarded("sweep", worker.sweep),
        "interval",
        seconds=SWEEP_SECONDS,
        id="sweep",
        next_run_time=utcnow(),
        **options,
    )
    return scheduler
