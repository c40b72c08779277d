"""Serve the relay exactly as `relay serve` does, plus a bench-only `/bench/ceiling` route.

`.venv/bin/python -m bench.wsgi --config F [--threads 8] [--scheduler]`: the app comes from
relay.web.app.create_app, served by waitress with the same thread count as `relay serve`; the
extra route only answers 200, so a load generator measures, in the same process and server, what
the server itself can do (the ceiling) beside what the relay's webhook route does. Web only
(`relay serve --no-scheduler`) unless `--scheduler` is given.
"""

from __future__ import annotations

import argparse
import logging
import os

from flask import Flask

from relay.config import load_settings
from relay.db import Database
from relay.runtime import Runtime
from relay.scheduler import Worker, build_scheduler
from relay.server import run_server
from relay.web.app import create_app
from relay.web.context import settings_of

CEILING_PATH = "/bench/ceiling"


def build_app(config_path: str, runtime: bool = False) -> tuple[Flask, Worker | None]:
    """Return (the relay's app with the ceiling route, its jobs when `runtime`), schema
    created; the app wakes the jobs' inbox as `relay serve` does."""
    settings = load_settings(config_path)
    db = Database(settings.relay.database_url)
    db.create_schema()
    adapters = Runtime(settings, db)
    jobs = Worker(adapters) if runtime else None
    app = create_app(
        settings,
        db,
        on_queued=jobs.wake_inbox if jobs else None,
        spool_dir=settings.relay.spool_directory(),
        runtime=adapters,
    )

    def ceiling() -> tuple[str, int]:
        return "", 200

    app.add_url_rule(CEILING_PATH, "bench_ceiling", ceiling, methods=["GET", "POST"])
    return app, jobs


def main() -> None:
    """Parse arguments and serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--threads", type=int, default=8, help="waitress threads (as relay serve)")
    parser.add_argument("--scheduler", action="store_true", help="also run the relay's jobs")
    args = parser.parse_args()

    logging.basicConfig(
        level=os.environ.get("RELAY_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    app, jobs = build_app(args.config, runtime=args.scheduler)
    if jobs is not None:
        build_scheduler(jobs).start()
    run_server(app, settings_of(app).relay, args.threads)


if __name__ == "__main__":
    main()
