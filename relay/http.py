"""Send the relay's outgoing HTTP over one requests.Session with timeouts; record every call.

Storefront API calls, status webhooks and HTTP rate sources all go through one `HttpClient`
(built once by relay/runtime.py, so they share its connection pool). `HttpClient.call` never
raises for a network error: it returns the response (None when there was no answer) and the
call's `CallRecord` (method, path, status code, latency in ms, response excerpt, error,
Retry-After), built here only; a delivery attempt (relay/delivery.py) is made of these records.
Retry rules follow RFC 9110 (408, 429, 5xx; `Retry-After` in delta-seconds) and RFC 8470 (425).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import requests

USER_AGENT = "relay/0.1 (+https://github.com/relay)"
RETRYABLE_STATUS = frozenset({408, 425, 429})
EXCERPT_CHARS = 300  # of a response body, kept in the attempt log


@dataclass
class CallRecord:
    """One HTTP call made while delivering: method, path, status code (None on no answer)."""

    method: str
    path: str
    status_code: int | None
    latency_ms: int
    excerpt: str = ""
    error: str = ""
    retry_after: float | None = None


@dataclass
class Outcome:
    """How one delivery attempt ended; `retry` false with `ok` false means give up."""

    ok: bool
    retry: bool = False
    status_code: int | None = None
    error: str = ""
    excerpt: str = ""
    retry_after: float | None = None
    calls: list[CallRecord] = field(default_factory=list)

    @property
    def latency_ms(self) -> int:
        """Return the summed latency of the calls (ms)."""
        return sum(c.latency_ms for c in self.calls)


def parse_retry_after(value: str | None) -> float | None:
    """Return a Retry-After header's delay in seconds (delta-seconds form), or None."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


def is_retryable(status_code: int | None) -> bool:
    """Tell whether an HTTP answer (None: no answer) is worth retrying."""
    return status_code is None or status_code in RETRYABLE_STATUS or status_code >= 500


class HttpClient:
    """Make the relay's outgoing HTTP calls over one requests.Session; `timeout` in seconds.

    Safe to share between the relay's threads (requests' connection pool is); `session` may be
    given (tests), else the client makes its own and `close` closes it.
    """

    def __init__(self, timeout: float, session: requests.Session | None = None) -> None:
        self.timeout = timeout
        self.session = session or requests.Session()

    def call(
        self,
        method: str,
        url: str,
        *,
        path: str | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
        **kwargs: Any,
    ) -> tuple[requests.Response | None, CallRecord]:
        """Make one call; return (the response or None when none came, its record).

        `path` names the call in its record (default: the URL); `timeout` overrides the client's;
        other keyword arguments go to `requests.Session.request` (json, data, params, headers,
        auth). A call with no answer has status_code None and the exception's name as error.
        """
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                url,
                timeout=self.timeout if timeout is None else timeout,
                allow_redirects=allow_redirects,
                **kwargs,
            )
        except requests.RequestException as exc:
            return None, CallRecord(
                method, path or url, None, _ms(started), error=type(exc).__name__
            )
        record = CallRecord(
            method,
            path or url,
            response.status_code,
            _ms(started),
            excerpt=response.text[:EXCERPT_CHARS],
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
        return response, record

    def close(self) -> None:
        """Close the session's connections."""
        self.session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
