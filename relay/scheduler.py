"""Run the relay's jobs: watchers (one per chain), delivery, expiry sweep and reconciliation with
APScheduler; the inbox on a thread of its own that the webhook route wakes (`Worker.wake_inbox`).
The jobs use the adapters of one Runtime (relay/runtime.py).

The inbox thread starts and stops with the scheduler (its start and shutdown events), so callers
only start and shut down the scheduler `build_scheduler` returns.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN, EVENT_SCHEDULER_STARTED, SchedulerEvent
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from relay.delivery import deliver_due
from relay.errors import ChainUnavailable
from relay.inbox import open_all
from relay.models import utcnow
from relay.reconcile import reconcile_store
from relay.runtime import Runtime
from relay.settings import ChainSettings
from relay.watcher import scan_once, sweep_expired

log = logging.getLogger(__name__)

DELIVERY_SECONDS = 1.0
SWEEP_SECONDS = 5.0
INBOX_SECONDS = 1.0  # how often the inbox is polled when nothing wakes it (another process)


class Worker:
    """The relay's jobs over one Runtime's adapters (relay/runtime.py): inbox, watchers,
    delivery, reconciliation and the expiry sweep; `scheduler` is set by `build_scheduler`."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.db = runtime.db
        self.scheduler: BackgroundScheduler | None = None
        self.unreachable: set[str] = set()  # chains whose last watcher tick found no node
        self.inbox = InboxLoop(_guarded("inbox", self.open_inbox), INBOX_SECONDS)

    def open_inbox(self) -> None:
        """Open the invoices of queued orders until none is due, then wake the delivery job."""
        runtime = self.runtime
        if open_all(self.db, self.settings, runtime.rates, runtime.address_usage):
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
        """Run the delivery job at once (when the scheduler runs)."""
        if self.scheduler is not None:
            self.scheduler.modify_job("deliver", next_run_time=utcnow())

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


class InboxLoop:
    """Run `drain` on a daemon thread: at once when woken, else every `seconds`.

    A wake while `drain` runs makes it run once more, so no queued order waits for the poll.
    """

    def __init__(self, drain: Callable[[], None], seconds: float) -> None:
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
            self._thread = threading.Thread(target=self._run, name="relay-inbox", daemon=True)
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


def _guarded(name: str, job: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            job()
        except (IntegrityError, StaleDataError) as exc:
            # another worker changed the same rows first; its work stands, this tick is redone
            log.info("job %s yielded to another worker (%s); next tick", name, type(exc).__name__)
        except Exception:
            # a job must survive a node or storefront outage; the next tick tries again
            log.exception("job %s failed; retrying on its next tick", name)

    return run


def build_scheduler(worker: Worker) -> BackgroundScheduler:
    """Return a scheduler (not started) with every job; each job runs one at a time."""
    scheduler = BackgroundScheduler(timezone="UTC")
    worker.scheduler = scheduler

    def inbox_follows(event: SchedulerEvent) -> None:
        if event.code == EVENT_SCHEDULER_STARTED:
            worker.inbox.start()
        else:
            worker.inbox.stop()

    scheduler.add_listener(inbox_follows, EVENT_SCHEDULER_STARTED | EVENT_SCHEDULER_SHUTDOWN)
    options = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
    for chain in worker.settings.chains.values():
        scheduler.add_job(
            _guarded(f"scan:{chain.name}", partial(worker.scan, chain)),
            "interval",
            seconds=chain.poll_seconds,
            id=f"scan:{chain.name}",
            next_run_time=utcnow(),
            **options,
        )
    for store in worker.settings.stores.values():
        if store.reconcile_seconds > 0:
            scheduler.add_job(
                _guarded(f"reconcile:{store.name}", partial(worker.reconcile, store.name)),
                "interval",
                seconds=store.reconcile_seconds,
                id=f"reconcile:{store.name}",
                next_run_time=utcnow(),
                **options,
            )
    scheduler.add_job(
        _guarded("deliver", worker.deliver),
        "interval",
        seconds=DELIVERY_SECONDS,
        id="deliver",
        next_run_time=utcnow(),
        **options,
    )
    scheduler.add_job(
        _guarded("sweep", worker.sweep),
        "interval",
        seconds=SWEEP_SECONDS,
        id="sweep",
        next_run_time=utcnow(),
        **options,
    )
    return scheduler
