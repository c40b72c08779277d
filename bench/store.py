"""The WooCommerce emulator with two things the benchmarks need: request times and an outage."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment

from werkzeug.wrappers import Request, Response

from devkit.woocommerce import WooStore


@dataclass(frozen=True)
class Stamp:
    """One REST request the store answered: when it arrived (unix s), what, and the answer."""

    at: float
    method: str
    path: str
    json: Any
    status: int


class BenchStore(WooStore):
    """A WooStore that timestamps every REST request and can be taken down (answers 503).

    `answer_delay` (seconds) is added before every answer, as a real shop's PHP and database
    take their time (WooCommerce's REST API answers in some 100 ms, not the emulator's 2 ms).
    """

    def __init__(self, *, answer_delay: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.answer_delay = answer_delay
        self.down = False
        self.stamps: list[Stamp] = []
        self.refused = 0  # requests answered 503 while down
        self._stamp_lock = threading.Lock()

    def _wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.down:  # what a reverse proxy answers while the shop behind it is down
            with self._stamp_lock:
                self.refused += 1
            response = Response("Service Unavailable", status=503, content_type="text/plain")
            return response(environ, start_response)
        if self.answer_delay:
            time.sleep(self.answer_delay)
        return super()._wsgi(environ, start_response)

    def _handle(self, request: Request) -> Response:
        arrived = time.time()
        response = super()._handle(request)
        body = request.get_data(cache=True)
        try:
            parsed = json.loads(body) if body.strip() else None
        except ValueError:
            parsed = None
        stamp = Stamp(arrived, request.method, request.path, parsed, response.status_code)
        with self._stamp_lock:
            self.stamps.append(stamp)
        return response
