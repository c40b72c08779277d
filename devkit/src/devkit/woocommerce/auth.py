"""WooCommerce REST authentication (AUTH `WC_REST_Authentication::authenticate()`, ADOC).

Over plain HTTP only OAuth 1.0a one-legged (HMAC-SHA1/-SHA256, in the query string or an
`Authorization: OAuth` header), verified the way the PHP code does it: base URL = the site's home
URL + request path, parameters as PHP parses the query string (a repeated key keeps its last
value; `k[]=v` becomes an array that WooCommerce signs as `k[0]`, so a standard client's signature
does not match), ±15 min timestamps, single-use nonces. HTTP Basic and
`?consumer_key=&consumer_secret=` only when WordPress sees HTTPS (`is_ssl`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import time
from typing import Protocol
from urllib.parse import quote, unquote, unquote_plus

from werkzeug.wrappers import Request

from devkit.woocommerce.rest import RestError
from devkit.woocommerce.wordpress import NUMERIC_RE, PhpValue, php_empty

_OAUTH_WINDOW = 15 * 60  # seconds either side of now (AUTH check_oauth_timestamp_and_nonce())
_OAUTH_HEADER_RE = re.compile(r'(oauth_[a-z_-]*)=(:?"([^"]*)"|([^,]*))')
_OAUTH_PARAMS = (
    "oauth_consumer_key",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
)


class Keys(Protocol):
    """The store's one API key and how WordPress sees its requests."""

    @property
    def consumer_key(self) -> str: ...

    @property
    def consumer_secret(self) -> str: ...

    @property
    def is_ssl(self) -> bool: ...

    @property
    def base_url(self) -> str: ...


def _rfc3986(text: str) -> str:
    """`wc_rest_urlencode_rfc3986()`: PHP `rawurlencode()` (unreserved: A-Z a-z 0-9 - _ . ~)."""
    return quote(text, safe="")


def _encode_values(value: PhpValue) -> PhpValue:
    if isinstance(value, dict):
        return {k: _encode_values(v) for k, v in value.items()}
    return _rfc3986(value)


def _join_with_equals(params: dict[str, PhpValue], prefix: str = "") -> list[str]:
    """`join_with_equals_sign()` of AUTH: nested arrays are signed as `key%5Bindex%5D`."""
    pairs: list[str] = []
    for key, value in params.items():
        full = f"{prefix}%5B{key}%5D" if prefix else key
        if isinstance(value, dict):
            pairs.extend(_join_with_equals(value, full))
        else:
            pairs.append(_rfc3986(f"{full}={value}"))
    return pairs


def presented_auth(request: Request, get: dict[str, PhpValue]) -> str | None:
    """Name the credentials a request presents: "oauth1", "query", "basic" or None."""
    header = request.headers.get("Authorization", "").strip()
    if header.startswith("OAuth ") or any(k.startswith("oauth_") for k in get):
        return "oauth1"
    if "consumer_key" in get:
        return "query"
    if header.lower().startswith("basic "):
        return "basic"
    return None


def _auth_error(message: str) -> RestError:
    return RestError(401, "woocommerce_rest_authentication_error", message)


class Authenticator:
    """Check a REST request's credentials against `keys`; remembers the OAuth nonces it saw."""

    def __init__(self, keys: Keys) -> None:
        self._keys = keys
        self._lock = threading.Lock()
        self._nonces: dict[int | str, str] = {}

    def authenticate(
        self,
        method: str,
        raw_path: str,
        get: dict[str, PhpValue],
        post: dict[str, PhpValue],
        request: Request,
    ) -> tuple[bool, RestError | None]:
        """`WC_REST_Authentication::authenticate()` (AUTH): Basic only over HTTPS, then OAuth."""
        error: RestError | None = None
        if self._keys.is_ssl:  # perform_basic_authentication()
            key = secret = ""
            query_key, query_secret = get.get("consumer_key"), get.get("consumer_secret")
            if not php_empty(query_key) and not php_empty(query_secret):
                key, secret = str(query_key), str(query_secret)
            basic = request.authorization
            if not key and basic is not None and basic.type == "basic":
                key, secret = basic.username or "", basic.password or ""
            if key and secret and key == self._keys.consumer_key:
                if hmac.compare_digest(secret.encode(), self._keys.consumer_secret.encode()):
                    return True, None
                error = _auth_error("Consumer secret is invalid.")

        # perform_oauth_authentication() / get_oauth_parameters()
        params: dict[str, PhpValue] = {**get, **post}
        header = request.headers.get("Authorization", "").strip()
        if header.startswith("OAuth "):
            for m in _OAUTH_HEADER_RE.finditer(header):
                quoted, bare = m.group(3) or "", m.group(4) or ""
                params[m.group(1)] = unquote_plus(bare if php_empty(quoted) else quoted)
        missing = [name for name in _OAUTH_PARAMS if php_empty(params.get(name))]
        if len(missing) == len(_OAUTH_PARAMS):
            return False, error
        if missing:
            word = "parameter" if len(missing) == 1 else "parameters"
            message = f"Missing OAuth {word} {', '.join(missing)}"
            return False, RestError(
                401, "woocommerce_rest_authentication_missing_parameter", message
            )
        if params["oauth_consumer_key"] != self._keys.consumer_key:
            return False, _auth_error("Consumer key is invalid.")

        # check_oauth_signature()
        signature = params.pop("oauth_signature")
        if not isinstance(signature, str):
            return False, _auth_error("Invalid signature - provided signature does not match.")
        consumer_signature = unquote(signature.replace(" ", "+"))
        ordered = dict(sorted(params.items(), key=lambda kv: kv[0].encode("utf-8")))
        normalized = {_rfc3986(k): _encode_values(v) for k, v in ordered.items()}
        scheme = "https" if self._keys.is_ssl else "http"
        home = scheme + self._keys.base_url[self._keys.base_url.index(":") :]
        # get_home_url( null, $request_path ): the path minus the home path "/", no slash if empty
        request_path = raw_path[1:] if raw_path.startswith("/") else raw_path
        base_uri = _rfc3986(home + ("/" + request_path.lstrip("/") if request_path else ""))
        string_to_sign = f"{method}&{base_uri}&" + "%26".join(_join_with_equals(normalized))
        signature_method = normalized.get("oauth_signature_method")
        if signature_method not in ("HMAC-SHA1", "HMAC-SHA256"):
            return False, _auth_error("Invalid signature - signature method is invalid.")
        digestmod = hashlib.sha1 if signature_method == "HMAC-SHA1" else hashlib.sha256
        key_bytes = (self._keys.consumer_secret + "&").encode("utf-8")
        expected = base64.b64encode(
            hmac.new(key_bytes, string_to_sign.encode("utf-8"), digestmod).digest()
        ).decode("ascii")
        if not hmac.compare_digest(expected.encode(), consumer_signature.encode()):
            return False, _auth_error("Invalid signature - provided signature does not match.")

        # check_oauth_timestamp_and_nonce()
        timestamp, nonce = params["oauth_timestamp"], params["oauth_nonce"]
        now = time.time()
        if (
            not isinstance(timestamp, str)
            or not NUMERIC_RE.match(timestamp)
            or not now - _OAUTH_WINDOW <= float(timestamp) <= now + _OAUTH_WINDOW
        ):
            return False, _auth_error("Invalid timestamp.")
        with self._lock:
            if nonce in self._nonces.values():
                return False, _auth_error("Invalid nonce - nonce has already been used.")
            stamp: int | str = (
                int(timestamp) if re.fullmatch(r"-?[1-9]\d*|0", timestamp) else timestamp
            )
            self._nonces[stamp] = str(nonce)  # keyed by timestamp, as in the PHP code
            for old in [k for k in self._nonces if isinstance(k, int) and k < now - _OAUTH_WINDOW]:
                del self._nonces[old]
        return True, None
