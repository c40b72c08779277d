"""The spool: lines written before the answer, moved once, and adopted after a process dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from relay.spool import HEADER_BYTES, SUFFIX, Spool, SpoolError

# A process that appends `count` lines to a spool in `directory`, says so, and waits to be killed.
# The first `moved` lines it moves itself (to nowhere).
APPENDER = """
import sys, time
from pathlib import Path
from relay.spool import Spool
spool = Spool(Path(sys.argv[1]), lambda lines: None)
for i in range(int(sys.argv[2])):
    if i == int(sys.argv[3]):
        spool.flush()
    spool.append(b"dead-%d" % i)
print("appended", flush=True)
time.sleep(600)
"""


class Sink:
    """A `move` that keeps what it gets; fails the next `fail` calls."""

    def __init__(self, fail: int = 0) -> None:
        self.lines: list[bytes] = []
        self.fail = fail

    def __call__(self, lines: list[bytes]) -> None:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("database down")
        self.lines.extend(lines)


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"*{SUFFIX}"))


def appender(directory: Path, count: int, moved: int = 0) -> subprocess.Popen[str]:
    """Start a process that appends `count` lines (moving the first `moved` itself) and stays
    alive; return it once it has."""
    process = subprocess.Popen(
        [sys.executable, "-c", APPENDER, str(directory), str(count), str(moved)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "appended"
    return process


def test_lines_from_many_threads_are_moved_once_in_their_order(tmp_path: Path) -> None:
    sink = Sink()
    spool = Spool(tmp_path / "spool", sink, segment_bytes=4096)  # rotates many times

    def append(thread: int) -> None:
        for i in range(300):
            spool.append(b"%d:%d" % (thread, i))
            if i % 50 == 0:
                spool.flush()

    threads = [threading.Thread(target=append, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spool.flush()
    assert spool.pending() == 0
    assert len(sink.lines) == 2400 and len(set(sink.lines)) == 2400
    for t in range(8):
        mine = [line for line in sink.lines if line.startswith(b"%d:" % t)]
        assert mine == [b"%d:%d" % (t, i) for i in range(300)]
    assert len(segments(tmp_path / "spool")) == 1  # full, moved segments were deleted
    spool.close()
    assert segments(tmp_path / "spool") == []


def test_a_move_that_fails_keeps_its_lines_for_the_next(tmp_path: Path) -> None:
    sink = Sink(fail=2)
    spool = Spool(tmp_path, sink)
    spool.append(b"a")
    spool.append(b"b")
    for _ in range(2):
        with pytest.raises(RuntimeError):
            spool.flush()
        assert spool.pending() == 2
    spool.append(b"c")
    assert spool.flush() == 3
    assert sink.lines == [b"a", b"b", b"c"] and spool.pending() == 0
    assert spool.flush() == 0


def test_the_mover_thread_moves_lines_on_its_own(tmp_path: Path) -> None:
    moved = threading.Event()
    got: list[bytes] = []

    def move(lines: list[bytes]) -> None:
        got.extend(lines)
        moved.set()

    spool = Spool(tmp_path, move, seconds=0.01)
    spool.start()
    try:
        spool.append(b"x")
        assert moved.wait(10)
        assert got == [b"x"]
    finally:
        spool.close()


def test_a_killed_process_lines_are_moved_by_the_next_and_a_live_ones_are_not(
    tmp_path: Path,
) -> None:
    alive = appender(tmp_path, 5)
    dead = appender(tmp_path, 1000, moved=400)
    dead.send_signal(signal.SIGKILL)
    dead.wait()
    dead.stdout.close()  # type: ignore[union-attr]
    sink = Sink()
    spool = Spool(tmp_path, sink)
    spool.open()
    try:
        # the dead process's lines it had not moved; the live one's are its own
        assert spool.flush() == 600
        assert sink.lines == [b"dead-%d" % i for i in range(400, 1000)]
        assert len(segments(tmp_path)) == 2  # the live process's and ours
        assert spool.flush() == 0
    finally:
        alive.kill()
        alive.wait()
        alive.stdout.close()  # type: ignore[union-attr]
    spool._adopted_at = 0.0  # as if ADOPT_SECONDS had passed
    assert spool.flush() == 5
    assert sink.lines[600:] == [b"dead-%d" % i for i in range(5)]
    spool.close()
    assert segments(tmp_path) == []


def test_a_last_line_cut_short_is_dropped_and_the_rest_moved(tmp_path: Path) -> None:
    header = b"%020d\n" % HEADER_BYTES  # nothing moved yet
    (tmp_path / f"123-1{SUFFIX}").write_bytes(header + b"one\ntwo\nthr")  # killed in write(2)
    sink = Sink()
    spool = Spool(tmp_path, sink)
    spool.open()
    assert spool.flush() == 2
    assert sink.lines == [b"one", b"two"]
    assert [p.name for p in segments(tmp_path)] == [spool._current.path.name]  # type: ignore[union-attr]
    spool.close()


def test_bad_lines_and_unusable_directories_are_refused(tmp_path: Path) -> None:
    spool = Spool(tmp_path, Sink())
    with pytest.raises(SpoolError, match="newline"):
        spool.append(b"a\nb")
    assert spool.pending() == 0
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(SpoolError, match="spool directory"):
        Spool(tmp_path / "file" / "spool", Sink()).open()
    if os.geteuid() != 0:  # root writes anywhere
        read_only = tmp_path / "ro"
        read_only.mkdir(mode=0o500)
        with pytest.raises(SpoolError):
            Spool(read_only, Sink()).open()


def test_an_old_unnamed_segment_of_a_dead_process_is_removed_and_a_new_one_kept(
    tmp_path: Path,
) -> None:
    old, new = tmp_path / ".123-1.tmp", tmp_path / ".123-2.tmp"
    old.write_bytes(b"")
    new.write_bytes(b"")
    os.utime(old, (1, 1))  # made long ago, never named: its process died in between
    spool = Spool(tmp_path, Sink())
    spool.open()
    spool.flush()
    assert not old.exists() and new.exists()  # the new one may be a live process's, being made
    spool.close()


def test_a_mover_that_keeps_failing_says_so_once_and_once_more_when_it_works_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("relay.spool.RETRY_SECONDS", 0.01)  # the database is back within ticks
    sink = Sink(fail=5)
    spool = Spool(tmp_path, sink, seconds=0.01)
    spool.append(b"one")
    spool.start()
    try:
        deadline = time.monotonic() + 10
        while not sink.lines and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        spool.close()
    assert sink.lines == [b"one"]
    records = [r for r in caplog.records if r.name == "relay.spool"]
    assert [r.getMessage() for r in records] == [
        "spool: moving accepted webhooks failed (RuntimeError: database down); trying every 0.01 s",
        "spool: moving accepted webhooks works again",
    ]
    assert not [r for r in records if r.exc_info]  # no traceback per tick
