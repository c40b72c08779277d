"""The spool: an append-only journal on local disk that accepted webhooks are written to before
the relay answers, moved into the database by a thread of the same process.

A committed database row before every 200 made each webhook wait for a commit (its own or a
group's) — the largest step of the webhook route (bench/README.md, ingest). The spool keeps the
guarantee a merchant needs, that an answered webhook survives the relay's crash or kill, at the
cost of one `write(2)`: `Spool.append` returns once the line is in the operating system's page
cache, which is what a SQLite commit with `synchronous = NORMAL` in WAL mode (the relay's
setting, relay/db.py) promises too. Neither survives the machine's own power loss; on
PostgreSQL, whose commits do, a line lives only on the relay's machine until its move, within
`seconds` (reconciliation, relay/reconcile.py, finds an order whose webhook was lost either way).

Layout: each process appends to a segment file of its own, `<pid>-<ns>.spool` in the spool
directory, holding an exclusive `flock` on it for as long as it lives. The mover thread hands the
complete lines written since its last move to `move` (which must commit them, or raise to have
them offered again), every `seconds`; a segment over `segment_bytes` whose lines are all moved is
replaced by a new one and deleted. A segment whose lock can be taken belongs to a process that is
gone: the mover moves its lines and deletes it (at start and every `ADOPT_SECONDS`), so a killed
relay's accepted webhooks are moved by the next relay started on that directory. Each segment
begins with a header saying how far its lines are moved, written after each move; a kill between
a move and that write moves the same batch again, so `move` must be idempotent, as the inbox is
(relay/inbox.py: an order opens one invoice however often it is queued). A last line without its
newline (a process killed inside `write(2)`, before it could answer) is dropped.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIX = ".spool"
READ_BYTES = 4 * 1024 * 1024  # at most this much of a segment is read per move
ADOPT_SECONDS = 10.0  # how often the mover looks for segments of processes that are gone
SEGMENT_BYTES = 1024 * 1024  # a segment this large, all moved, is replaced (a kill replays ≤ this)
RETRY_SECONDS = 5.0  # the mover's pause after a move failed (the database is down)


class SpoolError(Exception):
    """A line cannot be spooled (empty, or holds a newline) or the spool directory is unusable."""


def _mark(moved: int) -> bytes:
    """Return a segment's header: how many of its bytes (header included) are moved."""
    return b"%020d\n" % moved


HEADER_BYTES = len(_mark(0))


class _Segment:
    """One open segment file: its path, its descriptor (locked; appends and reads), one for its
    header (`mark_fd`), and how many of its bytes are moved."""

    __slots__ = ("fd", "mark_fd", "moved", "path")

    def __init__(self, path: Path, fd: int, mark_fd: int, moved: int) -> None:
        self.path = path
        self.fd = fd
        self.mark_fd = mark_fd  # without O_APPEND, so the header can be written in place
        self.moved = moved

    def close(self) -> None:
        if self.mark_fd != self.fd:
            os.close(self.mark_fd)
        os.close(self.fd)


class Spool:
    """Append lines (non-empty bytes without a newline), durable against a crash; a thread moves
    them.

    `move(lines)` gets a list of lines in the order they were appended (lines of one segment
    at a time) and must commit them somewhere, or raise: they are offered again on the next
    move. `on_moved()` is called after each batch, from the mover's thread.
    """

    def __init__(
        self,
        directory: Path,
        move: Callable[[list[bytes]], None],
        seconds: float = 0.05,
        segment_bytes: int = SEGMENT_BYTES,
    ) -> None:
        self.directory = directory
        self._move = move
        self._seconds = seconds
        self._segment_bytes = segment_bytes
        self._append_lock = threading.Lock()  # appends and the segment swap
        self._move_lock = threading.Lock()  # one move at a time (thread or flush)
        self._current: _Segment | None = None
        self._appended = 0
        self._moved = 0
        self._torn = False  # the last write failed halfway
        self._adopted_at = float("-inf")  # adopt on the first move
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def open(self) -> None:
        """Create the directory and this process's first segment; raises SpoolError when the
        directory cannot be made or written (idempotent)."""
        if self._current is not None:
            return
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._current = self._new_segment()
        except OSError as exc:
            raise SpoolError(f"spool directory {self.directory}: {exc.strerror or exc}") from exc

    def append(self, line: bytes) -> None:
        """Write one line; return once it is in the operating system's hands (a crash or kill
        of this process no longer loses it). raises SpoolError for an empty line or one
        holding a newline, OSError when the disk refuses the write (the line does not count)."""
        if not line or b"\n" in line:
            raise SpoolError("a spool line must not be empty or hold a newline")
        with self._append_lock:
            if self._current is None:
                self.open()
            segment = self._current
            assert segment is not None
            # after a write that failed halfway, start on a new line so the torn one spoils none
            data = (b"\n" if self._torn else b"") + line + b"\n"
            written = 0
            try:
                while written < len(data):  # a short write (a signal, a full disk): finish it
                    written += os.write(segment.fd, data[written:])
            except OSError:
                self._torn = self._torn or written > 0
                raise
            self._torn = False
            self._appended += 1

    def pending(self) -> int:
        """Return how many of this process's appended lines are not moved yet."""
        return max(0, self._appended - self._moved)

    def start(self) -> None:
        """Open the spool and start the mover thread (idempotent); raises SpoolError."""
        self.open()
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="relay-spool", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the mover thread after a last move (waits up to `timeout` seconds)."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout)
            self._thread = None

    def close(self) -> None:
        """Stop, move what is left, and close this process's segment (deleted when empty)."""
        self.stop()
        try:
            self.flush()
        except Exception:
            log.exception("spool: last move failed; the lines stay for the next start")
        with self._move_lock, self._append_lock:
            segment, self._current = self._current, None
            if segment is not None:
                self._retire(segment)

    def flush(self) -> int:
        """Move every complete line of this process's segment now, and adopt the segments of
        processes that are gone when it is time; return the lines moved. raises what `move`
        raises (the lines stay)."""
        with self._move_lock:
            moved = 0
            if self._current is not None:
                moved += self._move_segment(self._current, own=True)
                self._rotate_if_full()
            if time.monotonic() - self._adopted_at >= ADOPT_SECONDS:
                moved += self._adopt()
                self._adopted_at = time.monotonic()
            return moved

    def _run(self) -> None:
        failing = False  # one line when moves start failing, one when they work again
        while not self._stop.wait(self._seconds):
            try:
                self.flush()
            except (
                Exception
            ) as exc:  # the database is down: the lines stay on disk for the next try
                if not failing:
                    log.warning(
                        "spool: moving accepted webhooks failed (%s: %s); trying every %g s",
                        type(exc).__name__,
                        str(exc).splitlines()[0][:300] if str(exc) else "",
                        RETRY_SECONDS,
                    )
                    failing = True
                self._stop.wait(RETRY_SECONDS)
            else:
                if failing:
                    log.warning("spool: moving accepted webhooks works again")
                    failing = False
        try:
            self.flush()
        except Exception:
            log.exception("spool: last move failed; the lines stay for the next start")

    def _new_segment(self) -> _Segment:
        """Create, lock and publish a new segment (locked before its name is visible, so no
        other process can take it for a dead one's)."""
        stamp = f"{os.getpid()}-{time.time_ns()}"
        hidden = self.directory / f".{stamp}.tmp"
        fd = os.open(hidden, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        mark_fd = -1
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.write(fd, _mark(HEADER_BYTES))
            mark_fd = os.open(hidden, os.O_WRONLY)
            path = self.directory / f"{stamp}{SUFFIX}"
            os.rename(hidden, path)
        except OSError:
            if mark_fd >= 0:
                os.close(mark_fd)
            os.close(fd)
            hidden.unlink(missing_ok=True)
            raise
        return _Segment(path, fd, mark_fd, HEADER_BYTES)

    def _move_segment(self, segment: _Segment, own: bool) -> int:
        """Move the complete lines of a segment past what is moved; return how many."""
        moved = 0
        while True:
            data = os.pread(segment.fd, READ_BYTES, segment.moved)
            end = data.rfind(b"\n")
            if end < 0:
                if len(data) == READ_BYTES:  # one line longer than a read: read it whole
                    data = os.pread(segment.fd, os.fstat(segment.fd).st_size, segment.moved)
                    end = data.rfind(b"\n")
                if end < 0:
                    return moved
            lines = [line for line in data[:end].split(b"\n") if line]
            if lines:
                self._move(lines)
            segment.moved += end + 1
            os.pwrite(segment.mark_fd, _mark(segment.moved), 0)  # a kill now replays no line
            moved += len(lines)
            if own:
                self._moved += len(lines)
            if len(data) < READ_BYTES:
                return moved

    def _rotate_if_full(self) -> None:
        """Replace this process's segment by a new one once it is large and wholly moved."""
        segment = self._current
        if segment is None or segment.moved < self._segment_bytes:
            return
        with self._append_lock:
            if os.fstat(segment.fd).st_size != segment.moved:
                return  # lines came meanwhile: the next move takes them, then we swap
            self._current = self._new_segment()
        self._retire(segment)

    def _retire(self, segment: _Segment) -> None:
        """Delete a segment whose lines are all moved (keep it if some are not) and close it."""
        if os.fstat(segment.fd).st_size == segment.moved:
            segment.path.unlink(missing_ok=True)
        else:
            log.warning("spool: %s keeps lines not moved; the next start moves them", segment.path)
        segment.close()

    def _adopt(self) -> int:
        """Move and delete the segments of processes that are gone; return the lines moved."""
        moved = 0
        own = self._current.path.name if self._current is not None else None
        for name in sorted(os.listdir(self.directory)):
            if name == own:
                continue
            path = self.directory / name
            if name.endswith(".tmp") and name.startswith("."):
                self._remove_if_unlocked(path)  # a segment that never got its name: empty
                continue
            if not name.endswith(SUFFIX):
                continue
            segment = self._lock_orphan(path)
            if segment is None:
                continue
            try:
                moved += self._move_segment(segment, own=False)
                size = os.fstat(segment.fd).st_size
                if size > segment.moved:
                    log.warning(
                        "spool: %s ends in %d bytes without a newline (a write cut short before "
                        "its answer); dropped",
                        path,
                        size - segment.moved,
                    )
                log.info("spool: moved the accepted webhooks left in %s", path)
                path.unlink(missing_ok=True)
            finally:
                segment.close()
        return moved

    def _lock_orphan(self, path: Path) -> _Segment | None:
        """Return a segment of a process that is gone, locked; None when it is alive or gone."""
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(path).st_ino != os.fstat(fd).st_ino:
                raise FileNotFoundError(path)  # deleted by its adopter meanwhile
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            return None
        header = os.pread(fd, HEADER_BYTES, 0)
        try:
            moved = max(HEADER_BYTES, int(header)) if header.endswith(b"\n") else HEADER_BYTES
        except ValueError:  # not a header: move every line after where it would be
            moved = HEADER_BYTES
        return _Segment(path, fd, fd, moved)

    def _remove_if_unlocked(self, path: Path) -> None:
        """Delete a hidden segment a process made and never named (it died in between): one
        older than `ADOPT_SECONDS` whose lock can be taken."""
        try:
            if time.time() - path.stat().st_mtime < ADOPT_SECONDS:
                return  # being made right now, perhaps
        except FileNotFoundError:
            return
        segment = self._lock_orphan(path)
        if segment is not None:
            path.unlink(missing_ok=True)
            segment.close()
