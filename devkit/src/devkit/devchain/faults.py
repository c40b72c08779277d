"""Put a JSON-RPC proxy in front of a real node that injects faults by rule: the fault is the
only thing mocked, every answer that gets through is the node's own.

`FaultProxy(upstream)` listens on 127.0.0.1 and forwards each HTTP POST to `upstream` (which
may change, e.g. to a restarted node). `fail(kind, methods, times)` arms a rule for the next
`times` requests that carry one of `methods` (any request when None):

- "error": the node's answer, with the last matching call's result replaced by a JSON-RPC error
  (-32005, "limit exceeded", as rate-limiting providers answer; in a batch only that call fails);
- "http": an HTTP 503 with a text body instead of any answer;
- "timeout": no answer for `delay` seconds, then the connection is closed;
- "cut": the node's answer cut off half way and the connection closed;
- "call": `action()` runs before the request is forwarded (e.g. the node's `stop`: a node
  killed in the middle of a watcher tick), then the request goes on as usual.

`methods_seen` lists the method names of every request, in order. Nothing here is used by
`relay serve` in production.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

FAULTS = ("error", "http", "timeout", "cut", "call")
INJECTED_ERROR = {"code": -32005, "message": "limit exceeded (injected by FaultProxy)"}


@dataclass
class _Rule:
    kind: str
    methods: frozenset[str] | None
    times: int
    delay: float
    action: Callable[[], None] | None


class FaultProxy:
    """A fault-injecting HTTP proxy for JSON-RPC on 127.0.0.1 (a context manager)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.methods_seen: list[str] = []
        self.injected: list[tuple[str, str]] = []  # (kind, method) of every fault injected
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._session = requests.Session()
        self._session.trust_env = False  # loopback: ignore proxy settings from the environment
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Return the proxy's URL, "http://127.0.0.1:PORT"."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        """Start serving on a thread; return self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the upstream session."""
        self._server.shutdown()
        self._server.server_close()
        self._session.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail(
        self,
        kind: str,
        methods: Collection[str] | None = None,
        times: int = 1,
        delay: float = 3.0,
        action: Callable[[], None] | None = None,
    ) -> None:
        """Inject `kind` (see the module docstring) into the next `times` requests that carry
        one of `methods` (any request when None); `delay` is the "timeout" wait in seconds,
        `action` what "call" runs."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULTS}")
        if (kind == "call") != (action is not None):
            raise ValueError('an action goes with kind "call", and only with it')
        with self._lock:
            self._rules.append(
                _Rule(kind, frozenset(methods) if methods else None, times, delay, action)
            )

    def clear(self) -> None:
        """Drop every armed rule."""
        with self._lock:
            self._rules.clear()

    def _take(self, methods: list[str]) -> tuple[_Rule, str] | None:
        """Return the first armed rule matching a request's methods (spending one of its
        times), with the method it matched."""
        with self._lock:
            self.methods_seen.extend(methods)
            for rule in self._rules:
                hit = next(
                    (m for m in reversed(methods) if rule.methods is None or m in rule.methods),
                    None,
                )
                if hit is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rules.remove(rule)
                    self.injected.append((rule.kind, hit))
                    return rule, hit
        return None

    def _forward(self, body: bytes) -> bytes:
        response = self._session.post(
            self.upstream, data=body, headers={"Content-Type": "application/json"}, timeout=60
        )
        return response.content


def _methods(document: Any) -> list[str]:
    calls = document if isinstance(document, list) else [document]
    return [str(call.get("method")) for call in calls if isinstance(call, dict)]


def _with_error(answer: bytes, method: str, document: Any) -> bytes:
    """Return the node's answer with the (last) call of `method` answered by INJECTED_ERROR."""
    replies = json.loads(answer)
    if isinstance(replies, dict):
        return json.dumps(
            {"jsonrpc": "2.0", "id": replies.get("id"), "error": INJECTED_ERROR}
        ).encode()
    calls = {call.get("id"): call.get("method") for call in document}
    for reply in reversed(replies):
        if calls.get(reply.get("id")) == method:
            reply.pop("result", None)
            reply["error"] = INJECTED_ERROR
            break
    return json.dumps(replies).encode()


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as web3's requests session expects

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the tests read `methods_seen`

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            document = json.loads(body)
            taken = proxy._take(_methods(document))
            kind = taken[0].kind if taken else None
            if taken is not None and taken[0].action is not None:
                taken[0].action()
            if kind == "timeout":
                assert taken is not None
                time.sleep(taken[0].delay)
                self.close_connection = True
                return
            if kind == "http":
                self._answer(503, b"upstream unavailable (injected)", "text/plain")
                return
            try:
                answer = proxy._forward(body)
            except requests.RequestException:
                self.close_connection = True  # the node is down: so is the connection
                return
            if kind == "error":
                assert taken is not None
                answer = _with_error(answer, taken[1], document)
            if kind == "cut":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer[: len(answer) // 2])
                self.close_connection = True
                return
            self._answer(200, answer, "application/json")

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
