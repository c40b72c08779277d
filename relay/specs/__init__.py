"""Platform specs (`plugin_specs/<platform>.toml`): what a storefront platform's webhooks and
order API look like, as data. See plugin_specs/README.md for the format.

Modules: `model` (the validated spec and its placeholder sets), `loader` (shipped specs and a
store's own file, cached), `parse` and `check` (a document → PlatformSpec, every problem with
its key path), `paths` (JMESPath field paths), `templates` (placeholders and bodies), and `plan`
(the order API calls an invoice event makes, for relay/storefront.py).
"""

from relay.specs.loader import (
    SPEC_PACKAGE,
    available_platforms,
    check_platform,
    clear_spec_cache,
    load_spec,
)
from relay.specs.model import (
    LIST_PLACEHOLDERS,
    NOTE_PLACEHOLDERS,
    ORDER_PLACEHOLDERS,
    PLACEHOLDERS,
    REFUND_PLACEHOLDERS,
    SETTER_PLACEHOLDERS,
    CallSpec,
    NotesSpec,
    OrderAction,
    PlatformSpec,
    RefundsSpec,
    Setter,
    SpecInvalid,
    StoreLike,
)
from relay.specs.parse import parse_spec
from relay.specs.paths import as_text, compile_path, read_path
from relay.specs.plan import Push, Request, open_orders, plan_push, prepare
from relay.specs.templates import merge_bodies, render, render_tree

__all__ = [
    "LIST_PLACEHOLDERS",
    "NOTE_PLACEHOLDERS",
    "ORDER_PLACEHOLDERS",
    "PLACEHOLDERS",
    "REFUND_PLACEHOLDERS",
    "SETTER_PLACEHOLDERS",
    "SPEC_PACKAGE",
    "CallSpec",
    "NotesSpec",
    "OrderAction",
    "PlatformSpec",
    "Push",
    "RefundsSpec",
    "Request",
    "Setter",
    "SpecInvalid",
    "StoreLike",
    "as_text",
    "available_platforms",
    "check_platform",
    "clear_spec_cache",
    "compile_path",
    "load_spec",
    "merge_bodies",
    "open_orders",
    "parse_spec",
    "plan_push",
    "prepare",
    "read_path",
    "render",
    "render_tree",
]
