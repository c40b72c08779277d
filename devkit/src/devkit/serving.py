"""Serve an emulated shop on loopback: the HTTP plumbing both shop emulators share.

`LoopbackServer` runs a WSGI app on 127.0.0.1 (a free port, picked by the OS) in a background
thread, next to one worker thread that sends the shop's webhooks; `post` sends one webhook and
reports its outcome instead of raising. Subclasses give the app (`_wsgi`) and the worker loop
(`_work`, which returns once `_stopping` is set; wait on `_cond` to be woken by `stop()`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Self
from wsgiref.types import StartResponse, WSGIEnvironment

import requests
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

__all__ = ["LoopbackServer", "post"]


class _QuietHandler(WSGIRequestHandler):
    """Request handler that does not log every request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class LoopbackServer:
    """A WSGI app on 127.0.0.1 plus one worker thread; `start()`/`stop()` or `with`.

    One re-entrant lock (`_lock`, also held by `_cond`) guards the subclass's state; `base_url`
    ("http://127.0.0.1:PORT") is set by `start()` before either thread runs.
    """

    thread_names: tuple[str, str] = ("emulator-http", "emulator-worker")
    """Names of the HTTP thread and the worker thread (they show in thread dumps)."""

    def __init__(self) -> None:
        self.base_url = ""
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._stopping = False
        self._server: BaseWSGIServer | None = None
        self._server_thread: threading.Thread | None = None
        self._worker: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        """True once `stop()` began: the worker loop should return."""
        return self._stopping

    def _wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        raise NotImplementedError

    def _work(self) -> None:
        raise NotImplementedError

    def start(self) -> str:
        """Serve on a free loopback port in background threads; return `base_url`.

        Idempotent: a started server returns its URL.
        """
        with self._lock:
            if self._server is not None:
                return self.base_url
            server = make_server(
                "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler
            )
            self._server = server
            self.base_url = f"http://127.0.0.1:{server.server_port}"
            self._stopping = False
            http_name, worker_name = self.thread_names
            self._server_thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=http_name
            )
            self._server_thread.daemon = True
            self._server_thread.start()
            self._worker = threading.Thread(target=self._work, name=worker_name)
            self._worker.daemon = True
            self._worker.start()
            return self.base_url

    def stop(self) -> None:
        """Stop serving and the worker (queued webhooks are dropped); idempotent."""
        with self._cond:
            server, self._server = self._server, None
            server_thread, self._server_thread = self._server_thread, None
            worker, self._worker = self._worker, None
            self._stopping = True
            self._cond.notify_all()
        if server is not None:
            server.shutdown()
            server.server_close()
        if server_thread is not None:
            server_thread.join()
        if worker is not None and worker is not threading.current_thread():
            worker.join()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def post(
    url: str, body: bytes, headers: dict[str, str], timeout: float, *, redirects: bool
) -> tuple[int | None, requests.RequestException | None]:
    """POST one webhook; return (status code, None), or (None, the error) when none came back.

    `timeout` is in seconds; `redirects` says whether a 3xx answer is followed.
    """
    try:
        with requests.Session() as session:
            response = session.post(
                url, data=body, headers=headers, timeout=timeout, allow_redirects=redirects
            )
            response.close()
            return response.status_code, None
    except requests.RequestException as exc:
        return None, exc
