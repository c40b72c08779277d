"""Raise one of these; the web layer maps each to an HTTP answer in one place.

RelayError                      base; HTTP 400 "bad_request"
├── ConfigError                 a config file problem; carries every problem with its key path
├── SpecError                   a plugin spec problem (file and key path)
├── SignatureError              HTTP 401: a webhook signature did not verify
├── AuthError                   HTTP 401: missing or wrong bearer token
├── NotFound                    HTTP 404: no such invoice, delivery or refund
│   └── UnknownStore            no store of that name in the config (code unknown_store)
├── PayloadError                HTTP 400: a request body we cannot read
├── InvoiceError                HTTP 422: the invoice cannot be opened (no total, no option…)
│   └── RateUnavailable         no rate source answered for an asset (fail closed)
├── TransitionError             an illegal invoice status move (a bug, never user input)
├── StorefrontError             the storefront's API answered with an error
├── AddressError                HTTP 422: a refund address the relay refuses (code says why)
├── RefundConflict              HTTP 409: the refund is past the step asked for (paid, cancelled…)
├── InboxConflict               HTTP 409: an inbox row is not in the state asked for (not dead)
└── ChainError                  HTTP 503: no RPC answered a check that must not be skipped
    └── ChainUnavailable        no RPC URL of a chain answered (relay/chain/rpc.py fails over first)
"""

from __future__ import annotations


class RelayError(Exception):
    """Base of every error the relay raises on purpose."""

    http_status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(RelayError):
    """Raise for an invalid configuration; `problems` lists (key path, message) pairs."""

    code = "config_error"

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{key}: {msg}" for key, msg in problems))


class SpecError(RelayError):
    """Raise for an invalid plugin spec; the message names the file and the key path."""

    code = "spec_error"


class SignatureError(RelayError):
    """Raise when a webhook signature is missing or does not verify."""

    http_status = 401
    code = "invalid_signature"


class AuthError(RelayError):
    """Raise when a bearer token is missing or wrong."""

    http_status = 401
    code = "unauthorized"


class NotFound(RelayError):
    """Raise when a store, invoice or delivery does not exist."""

    http_status = 404
    code = "not_found"


class UnknownStore(NotFound):
    """Raise when no `[stores.<name>]` has the name a request or a row gives.

    Its own code, `unknown_store`, tells a misconfigured store name apart from an unknown
    invoice (the WooCommerce plugin's connection test relies on it).
    """

    code = "unknown_store"


class PayloadError(RelayError):
    """Raise when a request body cannot be read as the platform's payload."""

    code = "invalid_payload"


class InvoiceError(RelayError):
    """Raise when an invoice cannot be opened for an order."""

    http_status = 422
    code = "invoice_error"


class RateUnavailable(InvoiceError):
    """Raise when no rate source answered for an asset (503: the same order may work later)."""

    http_status = 503
    code = "rate_unavailable"


class TransitionError(RelayError):
    """Raise for an invoice status move the state machine does not allow."""

    http_status = 409
    code = "illegal_transition"


class StorefrontError(RelayError):
    """Raise when the storefront's API answers with an error."""

    http_status = 502
    code = "storefront_error"


class AddressError(RelayError):
    """Raise when a refund address is refused; `code` names the reason.

    Codes: not_an_address, bad_checksum, zero_address, own_address (a deposit address of the
    store), token_contract, contract_address (allowed only once the customer confirms).
    """

    http_status = 422
    code = "invalid_address"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class RefundConflict(RelayError):
    """Raise when a refund cannot take a step in its current status."""

    http_status = 409
    code = "refund_conflict"


class InboxConflict(RelayError):
    """Raise when an inbox row cannot take a step in its status (retrying one not dead)."""

    http_status = 409
    code = "inbox_conflict"


class ChainError(RelayError):
    """Raise when a chain check the relay must not skip cannot be made now."""

    http_status = 503
    code = "chain_unavailable"


class ChainUnavailable(ChainError):
    """Raise when no RPC URL of a chain answered a read (every URL was tried in turn)."""
