"""Tell a failure that may heal by itself from one that never will, and say it in one line.

The inbox (relay/inbox.py) and the spool's mover retry what may heal and dead-letter what will
not, so one bad order never holds up the others and is never retried silently forever:

- permanent: the data is wrong for good — `PayloadError`, an `InvoiceError` other than a rate
  outage, text that is not valid Unicode (a lone surrogate, which JSON allows), a value the
  database refuses (`DataError`: a NUL in text, a string past its column's length, JSON it cannot
  parse), and Python's own errors about a value (ValueError, TypeError, KeyError, decimal and
  overflow errors) while reading an order;
- transient: the world may change — `RateUnavailable`, `ChainError`, `StorefrontError`, the
  database away or locked (`OperationalError`, `InterfaceError`, a lost connection), a race with
  another worker (`IntegrityError`, `StaleDataError`), network and OS errors; and anything not
  named here (a bug may be a flake), which is retried as transient, within the same bound.
"""

from __future__ import annotations

from sqlalchemy.exc import DataError, DBAPIError, StatementError
from sqlalchemy.orm.exc import StaleDataError

from relay.errors import InvoiceError, PayloadError, RateUnavailable, RelayError

_PERMANENT: tuple[type[BaseException], ...] = (
    PayloadError,
    UnicodeError,
    DataError,
    ValueError,
    TypeError,
    KeyError,
    ArithmeticError,  # decimal.InvalidOperation, OverflowError
    RecursionError,
)
_KNOWN_TRANSIENT: tuple[type[BaseException], ...] = (
    RelayError,  # RateUnavailable, ChainError, StorefrontError: the outside world
    DBAPIError,  # OperationalError, InterfaceError, IntegrityError (a race), …
    StaleDataError,
    OSError,  # requests' errors, timeouts, a full disk
)
MAX_REASON_CHARS = 500


def is_permanent(exc: BaseException) -> bool:
    """Tell whether retrying what raised `exc` can never succeed (see the module docstring)."""
    if isinstance(exc, RateUnavailable):
        return False
    if isinstance(exc, InvoiceError | PayloadError):
        return True
    if isinstance(exc, StatementError) and not isinstance(exc, DBAPIError):
        # SQLAlchemy's wrapper of an error raised while binding a value: judge the value's error
        return exc.orig is not None and is_permanent(exc.orig)
    return isinstance(exc, _PERMANENT) and not isinstance(exc, OSError)


def is_known(exc: BaseException) -> bool:
    """Tell whether `exc` is a failure the relay expects (permanent or transient), not a bug."""
    return is_permanent(exc) or isinstance(exc, _KNOWN_TRANSIENT)


def describe(exc: BaseException) -> str:
    """Return one line naming a failure: the relay's own message, else the type and message;
    printable, at most `MAX_REASON_CHARS` characters (reasons go to logs, rows and notes)."""
    if isinstance(exc, RelayError):
        text = exc.message
    elif isinstance(exc, ArithmeticError):  # decimal.InvalidOperation's own message is a list
        text = f"a number out of range or not exact ({type(exc).__name__})"
    elif isinstance(exc, DBAPIError) and exc.orig is not None:
        text = f"database refused it: {str(exc.orig).splitlines()[0] if str(exc.orig) else ''}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return printable(text)[:MAX_REASON_CHARS]


def printable(text: str) -> str:
    """Return `text` with every character that is not printable (controls, newlines, lone
    surrogates) written as a Python escape, so it fits one log line and any text column."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
