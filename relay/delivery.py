"""Send what is due in the outbox: storefront pushes and status webhooks, with retries.

`deliver_due` claims due deliveries (a lease in `claimed_until`; `FOR UPDATE SKIP LOCKED` on
PostgreSQL so two workers never take the same row), keeps order per (store, order, target) — a
delivery waits while an older one for the same order and target is pending — sends each, records
the attempt (time, status code, latency, response excerpt, error) and schedules the next try from
`delivery_retry_seconds`, or a later `Retry-After`. Retried: no answer, timeouts, 408, 425, 429 and
5xx; any other 4xx fails the delivery at once with the reason. Status webhooks are signed per
Standard Webhooks (`standardwebhooks` package); `webhook-id` is the event id on every try.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import aliased
from standardwebhooks.webhooks import Webhook

from relay.db import Database
from relay.http import USER_AGENT, HttpClient, Outcome, is_retryable
from relay.models import Delivery, DeliveryAttempt, DeliveryStatus
from relay.outbox import CALLBACK, STOREFRONT
from relay.settings import Settings, WebhookSettings
from relay.storefronts import Storefronts

log = logging.getLogger(__name__)


class Sender:
    """Send one delivery: a storefront push through `storefronts`, a status webhook over `http`."""

    def __init__(self, settings: Settings, http: HttpClient, storefronts: Storefronts) -> None:
        self.settings = settings
        self.http = http
        self.storefronts = storefronts

    def send(self, delivery: Delivery) -> Outcome:
        """Send one delivery; never raises for network or HTTP errors."""
        if delivery.target == STOREFRONT:
            # a client per push: its call log is per push, so pushes may run in parallel threads
            client = self.storefronts.client(delivery.store)
            if delivery.action == CALLBACK:
                return client.callback(delivery.payload, delivery.event_id)
            return client.push(delivery.payload, delivery.action)
        store = self.settings.stores[delivery.store]
        hook = next((h for h in store.webhooks if h.url == delivery.target), None)
        if hook is None:
            return Outcome(ok=False, error="webhook endpoint no longer configured")
        return self._webhook(hook, delivery)

    def tell_merchant(self, store: str, order_id: str, text: str) -> None:
        """Add a private note for the merchant to a store's order, once; one try, logged when it
        fails (relay/inbox.py tells of a dead letter this way: no invoice, so no outbox row)."""
        outcome = self.storefronts.client(store).add_note(order_id, text)
        if not outcome.ok:
            log.warning(
                "store %s order %s: the merchant could not be told: %s",
                store,
                order_id,
                outcome.error,
            )

    def _webhook(self, hook: WebhookSettings, delivery: Delivery) -> Outcome:
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True)
        moment = datetime.now().astimezone()
        signature = " ".join(
            Webhook(secret).sign(msg_id=delivery.event_id, timestamp=moment, data=body)
            for secret in hook.secrets
        )
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": delivery.event_id,
            "webhook-timestamp": str(int(moment.timestamp())),
            "webhook-signature": signature,
        }
        response, record = self.http.call("POST", hook.url, data=body.encode(), headers=headers)
        if response is None:
            return Outcome(ok=False, retry=True, error=record.error, calls=[record])
        ok = 200 <= response.status_code < 300  # Standard Webhooks: 3xx is a failure
        return Outcome(
            ok=ok,
            retry=not ok and is_retryable(response.status_code),
            status_code=response.status_code,
            error="" if ok else f"HTTP {response.status_code}",
            excerpt=record.excerpt,
            retry_after=record.retry_after,
            calls=[record],
        )


def claim_due(db: Database, now: datetime, limit: int, lease_seconds: float) -> list[int]:
    """Claim up to `limit` due deliveries, oldest first, for `lease_seconds`; return their ids.

    A delivery is due when its time has come, no lease on it is running, and no older delivery
    for the same (store, order, target) is still pending — so one order's pushes arrive in order.
    On PostgreSQL the rows are locked with SKIP LOCKED, so concurrent workers never claim the
    same delivery; SQLite serializes the whole transaction.
    """
    older = aliased(Delivery)
    blocked = (
        select(older.id)
        .where(
            older.status == DeliveryStatus.PENDING.value,
            older.store == Delivery.store,
            older.order_id == Delivery.order_id,
            older.target == Delivery.target,
            older.id < Delivery.id,
        )
        .exists()
    )
    with db.transaction() as session:
        eligible = list(
            session.scalars(
                select(Delivery.id)
                .where(
                    Delivery.status == DeliveryStatus.PENDING.value,
                    Delivery.next_attempt_at <= now,
                    or_(Delivery.claimed_until.is_(None), Delivery.claimed_until <= now),
                    ~blocked,
                )
                .order_by(Delivery.id)
                .limit(limit)
            )
        )
        if not eligible:
            return []
        query = select(Delivery).where(Delivery.id.in_(eligible)).order_by(Delivery.id)
        claimed = []
        for delivery in session.scalars(db.for_claim(query)):
            running = delivery.claimed_until is not None and delivery.claimed_until > now
            if delivery.status == DeliveryStatus.PENDING and not running:
                delivery.claimed_until = now + timedelta(seconds=lease_seconds)
                claimed.append(delivery.id)
        return claimed


def record_outcome(
    db: Database, settings: Settings, delivery_id: int, outcome: Outcome, now: datetime
) -> Delivery | None:
    """Store the attempt and the delivery's next state; return the delivery."""
    schedule = settings.relay.delivery_retry_seconds
    with db.transaction() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None:
            return None
        delivery.attempts += 1
        session.add(
            DeliveryAttempt(
                delivery_id=delivery.id,
                at=now,
                status_code=outcome.status_code,
                latency_ms=outcome.latency_ms,
                response_excerpt=outcome.excerpt,
                error=outcome.error,
            )
        )
        delivery.claimed_until = None
        delivery.last_error = outcome.error
        if outcome.ok:
            delivery.status = DeliveryStatus.SUCCEEDED.value
            delivery.completed_at = now
        elif outcome.retry and delivery.attempts < len(schedule):
            wait = float(schedule[delivery.attempts])
            if outcome.retry_after is not None:
                wait = max(wait, outcome.retry_after)
            delivery.next_attempt_at = now + timedelta(seconds=wait)
        else:
            delivery.status = DeliveryStatus.FAILED.value
            delivery.completed_at = now
            log.error(
                "delivery %s (%s to %s) failed: %s",
                delivery.id,
                delivery.event,
                delivery.target,
                outcome.error,
            )
        return delivery


def deliver_due(
    db: Database,
    settings: Settings,
    sender: Sender,
    limit: int = 50,
    now: datetime | None = None,
) -> int:
    """Send every due delivery once; return how many were attempted. `now` defaults to the clock.

    A claim's lease only has to last until a lane reaches the delivery: just before sending,
    `extend_claim` renews it for the send itself, and skips the delivery when the claim was lost
    meanwhile (the lease ran out behind a slow store and another worker claimed it), so a slow
    storefront never makes two workers send the same delivery.
    """
    lease = timedelta(seconds=delivery_lease_seconds(settings))
    claimed_at = now or _now()
    ids = claim_due(db, claimed_at, limit, lease.total_seconds())
    return send_claimed(db, settings, sender, ids, claimed_at + lease, now)


def delivery_lease_seconds(settings: Settings) -> float:
    """Return how long a claim (and then a send) keeps a delivery from other workers, seconds:
    a storefront push makes up to four calls of `delivery_timeout_seconds` each."""
    return 4 * settings.relay.delivery_timeout_seconds + 5


def send_claimed(
    db: Database,
    settings: Settings,
    sender: Sender,
    ids: list[int],
    claimed_until: datetime,
    now: datetime | None = None,
) -> int:
    """Send claimed deliveries (their lease `claimed_until`), per store at most
    `delivery_concurrency` at a time; return how many were claimed."""
    per_store: dict[str, deque[Delivery]] = defaultdict(deque)
    with db.transaction() as session:
        for delivery_id in ids:
            delivery = session.get(Delivery, delivery_id)
            if delivery is not None and delivery.status == DeliveryStatus.PENDING:
                session.expunge(delivery)
                per_store[delivery.store].append(delivery)
    lease = timedelta(seconds=delivery_lease_seconds(settings))

    def drain(queue: deque[Delivery]) -> None:
        while True:
            try:
                delivery = queue.popleft()  # lanes share their store's queue: none idles early
            except IndexError:
                return
            if not extend_claim(db, delivery.id, claimed_until, (now or _now()) + lease):
                log.info("delivery %s: claimed by another worker meanwhile; not sent", delivery.id)
                continue
            outcome = sender.send(delivery)
            record_outcome(db, settings, delivery.id, outcome, now or _now())

    # at most `delivery_concurrency` requests in flight per store; claims keep per-order order
    lanes = [
        queue
        for queue in per_store.values()
        for _ in range(min(settings.relay.delivery_concurrency, len(queue)))
    ]
    if len(lanes) == 1:
        drain(lanes[0])
    elif lanes:
        with ThreadPoolExecutor(max_workers=len(lanes), thread_name_prefix="deliver") as pool:
            for future in [pool.submit(drain, lane) for lane in lanes]:
                future.result()
    return len(ids)


def extend_claim(db: Database, delivery_id: int, claimed_until: datetime, until: datetime) -> bool:
    """Renew a claimed delivery's lease to `until` just before sending it; return False when the
    claim is no longer this worker's (another claimed it after the lease ran out, or it is no
    longer pending)."""
    with db.transaction() as session:
        result = session.execute(
            update(Delivery)
            .where(
                Delivery.id == delivery_id,
                Delivery.status == DeliveryStatus.PENDING.value,
                Delivery.claimed_until == claimed_until,
            )
            .values(claimed_until=until)
        )
        return bool(getattr(result, "rowcount", 0) == 1)


def _now() -> datetime:
    from relay.models import utcnow

    return utcnow()


def redeliver(db: Database, delivery_id: int, now: datetime) -> Delivery | None:
    """Queue a delivery to be sent again now, whatever its state; return it (None if unknown)."""
    with db.transaction() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None:
            return None
        delivery.status = DeliveryStatus.PENDING.value
        delivery.next_attempt_at = now
        delivery.claimed_until = None
        delivery.completed_at = None
        return delivery
