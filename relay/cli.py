"""The `relay` command: serve, worker, check-config, demo, and operator commands."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from relay.config import load_settings, summarize
from relay.errors import ConfigError
from relay.settings import Settings
from relay.spool import SpoolError

DEFAULT_CONFIG = "relay.toml"
EXIT_CONFIG = 2


def _config_option(fn: Any) -> Any:
    return click.option(
        "--config",
        "config_path",
        default=lambda: os.environ.get("RELAY_CONFIG", DEFAULT_CONFIG),
        show_default="relay.toml or $RELAY_CONFIG",
        help="Path of the TOML config file.",
    )(fn)


def _load(config_path: str) -> Settings:
    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        for key, message in exc.problems:
            click.echo(f"error: {key}: {message}", err=True)
        sys.exit(EXIT_CONFIG)
    for warning in settings.warnings:
        click.echo(f"warning: {warning}", err=True)
    return settings


def _logging() -> None:
    logging.basicConfig(
        level=os.environ.get("RELAY_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per job run is noise


@click.group()
def main() -> None:
    """relay: a self-hosted, non-custodial bridge between storefronts and EVM payments."""


@main.command("check-config")
@_config_option
def check_config(config_path: str) -> None:
    """Validate the config; print every problem with its key path (exit 2) or a summary."""
    from relay.address_checks import index_report

    settings = _load(config_path)
    click.echo(summarize(settings))
    for line in index_report(settings):
        click.echo(line)


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


@main.command()
@_config_option
@click.option("--no-scheduler", is_flag=True, help="Serve HTTP only (run `relay worker` apart).")
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=None,
    help="WSGI worker threads  [default: relay.threads, 8]",
)
def serve(config_path: str, no_scheduler: bool, threads: int | None) -> None:
    """Run the web app (waitress) and, unless told not to, the scheduler in one process."""
    from relay.db import Database
    from relay.runtime import Runtime
    from relay.scheduler import Worker, build_scheduler
    from relay.server import run_server
    from relay.web.app import create_app

    _logging()
    settings = _load(config_path)
    db = Database(settings.relay.database_url)
    db.create_schema()
    runtime = Runtime(settings, db)  # the adapters, shared by the web app and the jobs
    jobs = None if no_scheduler else Worker(runtime)
    try:
        app = create_app(
            settings,
            db,
            on_queued=jobs.wake_inbox if jobs else None,
            spool_dir=settings.relay.spool_directory(),
            runtime=runtime,
        )
    except SpoolError as exc:
        click.echo(f"error: relay.spool_dir: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    if jobs is not None:
        build_scheduler(jobs).start()
    run_server(app, settings.relay, threads)


@main.command()
@_config_option
def worker(config_path: str) -> None:
    """Run the scheduler only: watchers, deliveries, expiry."""
    from relay.db import Database
    from relay.runtime import Runtime
    from relay.scheduler import Worker, build_scheduler

    _logging()
    settings = _load(config_path)
    db = Database(settings.relay.database_url)
    db.create_schema()
    runtime = Runtime(settings, db)
    scheduler = build_scheduler(Worker(runtime))
    scheduler.start()
    _wait_for_signal()
    scheduler.shutdown()
    runtime.close()


@main.group()
def invoices() -> None:
    """Look at invoices."""


@invoices.command("list")
@_config_option
@click.option("--store", default=None)
@click.option("--status", default=None)
def invoices_list(config_path: str, store: str | None, status: str | None) -> None:
    """List recent invoices as JSON lines."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from relay.db import Database
    from relay.models import Invoice
    from relay.serialize import invoice_json

    settings = _load(config_path)
    db = Database(settings.relay.database_url)
    query = select(Invoice).order_by(Invoice.created_at.desc()).limit(100)
    if store:
        query = query.where(Invoice.store == store)
    if status:
        query = query.where(Invoice.status == status)
    with db.transaction() as session:
        for invoice in session.scalars(
            query.options(selectinload(Invoice.options), selectinload(Invoice.payments))
        ):
            data = invoice_json(invoice, settings.relay.public_url, settings.relay.secret_key)
            click.echo(json.dumps(data))


@main.group()
def deliveries() -> None:
    """Look at and resend outbox deliveries."""


@deliveries.command("list")
@_config_option
@click.option("--status", default=None, help="pending, succeeded or failed")
def deliveries_list(config_path: str, status: str | None) -> None:
    """List recent deliveries."""
    from sqlalchemy import select

    from relay.db import Database
    from relay.models import Delivery

    settings = _load(config_path)
    db = Database(settings.relay.database_url)
    query = select(Delivery).order_by(Delivery.id.desc()).limit(100)
    if status:
        query = query.where(Delivery.status == status)
    with db.transaction() as session:
        for d in session.scalars(query):
            click.echo(
                f"{d.id}\t{d.status}\t{d.event}\t{d.store}/{d.order_id}\t{d.target}\t"
                f"attempts={d.attempts}\t{d.last_error}"
            )


@deliveries.command("show")
@_config_option
@click.argument("delivery_id", type=int)
def deliveries_show(config_path: str, delivery_id: int) -> None:
    """Show one delivery with its attempts, as JSON."""
    from relay.db import Database
    from relay.models import Delivery
    from relay.serialize import delivery_json

    settings = _load(config_path)
    db = Database(settings.relay.database_url)
    with db.transaction() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None:
            click.echo(f"error: no delivery {delivery_id}", err=True)
            sys.exit(1)
        click.echo(json.dumps(delivery_json(delivery, attempts=True), indent=2))


@deliveries.command("redeliver")
@_config_option
@click.argument("delivery_id", type=int)
def deliveries_redeliver(config_path: str, delivery_id: int) -> None:
    """Queue a delivery to be sent again now."""
    from relay.db import Database
    from relay.delivery import redeliver
    from relay.models import utcnow

    settings = _load(config_path)
    if redeliver(Database(settings.relay.database_url), delivery_id, utcnow()) is None:
        click.echo(f"error: no delivery {delivery_id}", err=True)
        sys.exit(1)
    click.echo(f"delivery {delivery_id} queued")


@main.group()
def inbox() -> None:
    """Look at accepted orders waiting for their invoice, and put dead letters back."""


@inbox.command("list")
@_config_option
@click.option("--status", default=None, help="queued or dead")
def inbox_list(config_path: str, status: str | None) -> None:
    """List inbox rows, newest first, one per line: id, status, order, tries, received, reason."""
    from relay.dead_letters import list_rows
    from relay.errors import RelayError

    settings = _load(config_path)
    try:
        with _database(settings) as db:
            rows = list_rows(db, status)
    except RelayError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    for r in rows:
        click.echo(
            f"{r['id']}\t{r['status']}\t{r['store'] or '-'}/{r['order_id'] or '-'}\t"
            f"attempts={r['attempts']}\t{r['received_at']}\t{r['last_error']}"
        )


@inbox.command("retry")
@_config_option
@click.argument("row_id")
def inbox_retry(config_path: str, row_id: str) -> None:
    """Queue dead letter ROW_ID again, due now (the inbox job opens its invoice)."""
    from relay.dead_letters import retry, row_id_of
    from relay.errors import RelayError
    from relay.models import utcnow

    settings = _load(config_path)
    try:
        with _database(settings) as db:
            row = retry(db, row_id_of(row_id), utcnow())
    except RelayError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    click.echo(f"inbox row {row['id']} queued again: store {row['store']} order {row['order_id']}")


@main.group()
def refunds() -> None:
    """Look at, cancel or re-price refund requests (the merchant pays them from their wallet)."""


@contextmanager
def _database(settings: Settings) -> Iterator[Any]:
    """Yield the configured relay.db.Database; close its connections afterwards."""
    from relay.db import Database

    db = Database(settings.relay.database_url)
    try:
        yield db
    finally:
        db.dispose()


@refunds.command("list")
@_config_option
@click.option("--store", default=None)
@click.option("--order-id", default=None)
@click.option(
    "--status",
    default=None,
    help="awaiting_address, awaiting_payment, confirming, refunded or cancelled",
)
def refunds_list(
    config_path: str, store: str | None, order_id: str | None, status: str | None
) -> None:
    """List recent refunds, one per line: id, status, order, amounts, address, payment link."""
    from sqlalchemy import select

    from relay.models import Refund
    from relay.pricing import from_base_units
    from relay.serialize import refund_uri

    settings = _load(config_path)
    query = select(Refund).order_by(Refund.created_at.desc(), Refund.id).limit(100)
    if store:
        query = query.where(Refund.store == store)
    if order_id:
        query = query.where(Refund.order_id == order_id)
    if status:
        query = query.where(Refund.status == status)
    with _database(settings) as db, db.transaction() as session:
        for r in session.scalars(query):
            asset_amount = from_base_units(r.amount_base_units, r.decimals)
            click.echo(
                f"{r.id}\t{r.status}\t{r.store}/{r.order_id}\t{r.amount} {r.currency}\t"
                f"{asset_amount} {r.asset} on {r.chain}\t{r.to_address or '-'}\t"
                f"{refund_uri(r) or '-'}\t{r.tx_hash or '-'}"
            )


@refunds.command("show")
@_config_option
@click.argument("refund_id")
def refunds_show(config_path: str, refund_id: str) -> None:
    """Show one refund as JSON, with the EIP-681 link (`uri`) to pay it from your wallet."""
    from relay.refunds import load_refund
    from relay.serialize import refund_json

    settings = _load(config_path)
    with _database(settings) as db, db.transaction() as session:
        refund = load_refund(session, refund_id)
        data = (
            refund_json(refund, settings.relay.public_url, settings.relay.secret_key)
            if refund is not None
            else None
        )
    if data is None:
        click.echo(f"error: no refund {refund_id}", err=True)
        sys.exit(1)
    click.echo(json.dumps(data, indent=2))


@refunds.command("cancel")
@_config_option
@click.argument("refund_id")
def refunds_cancel(config_path: str, refund_id: str) -> None:
    """Cancel a refund request that was not paid yet (a note goes to the order)."""
    from relay.errors import RelayError
    from relay.models import utcnow
    from relay.refunds import cancel_refund

    settings = _load(config_path)
    try:
        with _database(settings) as db:
            cancel_refund(db, settings, refund_id, utcnow())
    except RelayError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    click.echo(f"refund {refund_id} cancelled")


@refunds.command("set-amount")
@_config_option
@click.argument("refund_id")
@click.argument("base_units", type=click.IntRange(min=1))
def refunds_set_amount(config_path: str, refund_id: str, base_units: int) -> None:
    """Pay BASE_UNITS (integer base units of the asset) instead of the locked-rate amount."""
    from relay.errors import RelayError
    from relay.models import utcnow
    from relay.refunds import set_refund_amount
    from relay.serialize import refund_uri

    settings = _load(config_path)
    try:
        with _database(settings) as db:
            refund = set_refund_amount(db, settings, refund_id, base_units, utcnow())
    except RelayError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    click.echo(f"refund {refund_id}: {base_units} base units; pay with {refund_uri(refund) or '-'}")


DEMO_HOST = "127.0.0.1"
# The development kit (devkit/, a distribution of its own, not in the relay's wheel) offers the
# demo through this entry point, so the relay never imports it.
DEVKIT_ENTRY_POINTS = "relay.devkit"


@main.command()
@click.option("--exit", "exit_when_done", is_flag=True, help="Stop once the order is processing.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    help="Port of the relay's web server (a free one is picked if the default is taken).",
)
@click.pass_context
def demo(ctx: click.Context, exit_when_done: bool, port: int) -> None:
    """Run everything locally: SQLite, an anvil chain, a demo WooCommerce store, one order paid."""
    from importlib.metadata import entry_points

    found = entry_points(group=DEVKIT_ENTRY_POINTS, name="demo")
    if not found:
        click.echo(
            "relay demo needs the development kit, which is not installed: from a checkout of "
            "the repository run `make setup` (or `pip install -e ./devkit`).",
            err=True,
        )
        sys.exit(2)
    run_demo = next(iter(found)).load()
    if not _port_is_free(DEMO_HOST, port):
        if ctx.get_parameter_source("port") is not click.core.ParameterSource.DEFAULT:
            click.echo(f"error: port {port} on {DEMO_HOST} is taken; pass another --port", err=True)
            sys.exit(2)
        taken, port = port, _free_port(DEMO_HOST)
        click.echo(f"port {taken} is taken; the demo relay listens on port {port} instead")

    _logging()
    logging.getLogger("relay").setLevel(logging.WARNING)
    sys.exit(run_demo(port=port, keep_running=not exit_when_done))


def _port_is_free(host: str, port: int) -> bool:
    """Return whether a server could listen on host:port now."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _free_port(host: str) -> int:
    """Return a port on `host` that nothing listens on (the kernel's choice)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port
