"""Translate the dashboard's strings from Python: Flask-Babel's gettext, typed.

`_("Delivery %(id)s is queued", id=7)` looks the message up in the request's locale catalog and
fills in its named fields; pybabel's extraction finds `_` calls as it does in templates.
"""

from __future__ import annotations

from flask_babel import gettext


def _(message: str, **variables: object) -> str:
    """Return `message` translated for the request's locale, its `%(name)s` fields filled in."""
    return str(gettext(message, **variables))
