"""Serve the relay's web app with waitress, set up to hold up in production.

The `[relay]` keys `threads`, `connection_limit`, `channel_timeout_seconds` and `trusted_proxy`
(config.example.toml) become waitress's arguments in `waitress_options`:

* `connection_limit` (default 1000, waitress's own is 100): waitress stops accepting once that
  many connections are open, so a crowd of idle clients at waitress's 100 locked everyone out.
  Beyond the limit new connections wait in the kernel's listen queue (`backlog`, 1024) and are
  accepted as soon as open ones close; none is refused. Idle connections cost a file descriptor
  and a few KiB each, no thread (waitress's threads only run complete requests).
* `channel_timeout_seconds` (default 30, waitress's own is 120): a connection that sent nothing
  for that long with no request in progress is closed (checked every `_cleanup_seconds`), so
  idle connections free their place within about 1.3 times the timeout. It sits above the
  reverse proxies' idle keep-alive to the relay (deploy/: 20 s), so a proxy never sends a
  request on a connection the relay is closing.
* `poll()` instead of `select()`: `select()` cannot watch a file descriptor above 1023, which
  a limit of 1000 connections plus the database's, the spool's and the outgoing HTTP clients'
  would pass. The process's open-files limit is raised to what the connections need (the soft
  limit up to the hard one; systemd's default hard limit is 524288); where the hard limit is
  lower, the connection limit is lowered to fit and a warning says so.
* `trusted_proxy` (default "": none): the one address (the reverse proxy on the same machine,
  127.0.0.1) whose `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host` set the
  client's address, the scheme and the host the app sees; one proxy hop is believed. From any
  other address, and for every other forwarded header, waitress removes them before the app
  sees them (`clear_untrusted_proxy_headers`), so a client cannot claim an address or https.
"""

from __future__ import annotations

import gc
import logging
import resource
import signal
from typing import TYPE_CHECKING, Any

from relay.settings import RelaySettings

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger("relay")

# The X-Forwarded-* headers Caddy and nginx set (deploy/); X-Forwarded-Port comes from neither:
# waitress derives the port from the scheme and the host.
TRUSTED_PROXY_HEADERS = frozenset({"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"})
# Files the process holds besides its client connections: the database's connections, the
# spool's segments, the chain and storefront clients' sockets, logs, the listening sockets.
RESERVED_FILES = 128


def waitress_options(relay: RelaySettings, threads: int | None = None) -> dict[str, Any]:
    """Return the keyword arguments for `waitress.serve` from the `[relay]` settings (`threads`
    overrides `relay.threads`: `relay serve --threads`). Listening address not included."""
    options: dict[str, Any] = {
        "threads": threads or relay.threads,
        "connection_limit": relay.connection_limit,
        "channel_timeout": relay.channel_timeout_seconds,
        "cleanup_interval": _cleanup_seconds(relay.channel_timeout_seconds),
        "asyncore_use_poll": True,
        "clear_untrusted_proxy_headers": True,
        "ident": "relay",
    }
    if relay.trusted_proxy:
        options.update(
            trusted_proxy=relay.trusted_proxy,
            trusted_proxy_count=1,
            trusted_proxy_headers=set(TRUSTED_PROXY_HEADERS),
            log_untrusted_proxy_headers=False,
        )
    return options


def _cleanup_seconds(channel_timeout: int) -> int:
    """How often waitress looks for idle connections: a third of the timeout, 1 to 30 s."""
    return max(1, min(30, channel_timeout // 3))


def allow_open_files(connections: int) -> int:
    """Raise this process's soft open-files limit to what `connections` client connections and
    RESERVED_FILES need (up to the hard limit); return how many connections fit (`connections`,
    or fewer under a low hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = connections + RESERVED_FILES
    if soft != resource.RLIM_INFINITY and soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return connections
    return max(1, soft - RESERVED_FILES)


def run_server(app: Flask, relay: RelaySettings, threads: int | None = None) -> None:
    """Serve the relay's app with waitress on `relay.listen` (host:port) with the options of
    `waitress_options` until SIGTERM or SIGINT, then move what its spool holds, so a clean stop
    leaves nothing for the next start."""
    from waitress import serve as waitress_serve

    from relay.web.context import inbox_of

    options = waitress_options(relay, threads)
    fit = allow_open_files(options["connection_limit"])
    if fit < options["connection_limit"]:
        log.warning(
            "relay.connection_limit lowered from %d to %d: the open-files limit allows no more "
            "(raise it: LimitNOFILE= in the systemd unit, or ulimit -n)",
            options["connection_limit"],
            fit,
        )
        options["connection_limit"] = fit
    host, _, port = relay.listen.rpartition(":")
    log.info(
        "serving on http://%s:%s (%d threads, at most %d connections)",
        host,
        port,
        options["threads"],
        options["connection_limit"],
    )
    # What startup made (modules, the app) lives as long as the process: out of the collector's
    # sight, a full collection under load pauses every thread for about 7 ms instead of about
    # 95 ms, which was most of the webhook route's p99 (bench/README.md, ingest).
    gc.collect()
    gc.freeze()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        waitress_serve(app, host=host.strip("[]"), port=int(port), **options)
    except KeyboardInterrupt:
        pass
    finally:
        log.info("stopping")
        inbox_of(app).close()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
