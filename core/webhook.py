"""What a webhook door checks before it stores anything: size, secret, body.

Pure functions on plain data (headers mapping, body bytes), so the Odoo controller
stays a thin route and these rules are tested without Odoo.
"""

import json
import math

from . import inbox
from .errors import PayloadError
from .signature import SIGNATURE_HEADER, secrets_match, verify_hmac

SECRET_HEADER = "X-Pico-Webhook-Secret"
MAX_BODY_BYTES = 1024 * 1024
HMAC_WINDOW_SECONDS = 300
# Pico's events are a few levels deep; anything deeper is not one of them.
MAX_DEPTH = 32
# URL kind -> inbox event type.
KINDS = {
    "completion": inbox.COMPLETION,
    "version": inbox.PRODUCTION_VERSION,
}


class Rejection(Exception):
    """A refused delivery: HTTP status plus a JSON body naming the problem."""

    def __init__(self, status, error, message, field=None):
        super().__init__(message)
        self.status = status
        self.body = {"error": error, "message": message}
        if field is not None:
            self.body["field"] = field


def check_size(content_length, max_bytes=MAX_BODY_BYTES):
    """Refuse a body announced (or read) larger than max_bytes."""
    if content_length is not None and int(content_length) > max_bytes:
        raise Rejection(
            413, "too_large", f"body larger than {max_bytes} bytes", field="body"
        )


def authenticate(headers, body, secret, require_hmac, now):
    """Check the shared secret and, when required, the HMAC signature."""
    if not secrets_match(secret, headers.get(SECRET_HEADER)):
        raise Rejection(
            401, "unauthorized", f"missing or wrong {SECRET_HEADER}", SECRET_HEADER
        )
    if require_hmac and not verify_hmac(
        secret, headers.get(SIGNATURE_HEADER), body, now, HMAC_WINDOW_SECONDS
    ):
        raise Rejection(
            401,
            "unauthorized",
            f"missing, wrong or expired {SIGNATURE_HEADER}",
            SIGNATURE_HEADER,
        )


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _unstorable(value):
    """Why a parsed body cannot be stored as it is, or None."""
    todo = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(item, dict):
            todo.extend((key, depth) for key in item)
            todo.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            todo.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            if "\x00" in item:
                return "a string holds a NUL character"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "a string holds a lone surrogate (not UTF-8)"
        elif isinstance(item, float) and not math.isfinite(item):
            return "a number is out of range"
    return None


def parse_json(body):
    """Parse a body into what the database can hold, or raise a 400 Rejection."""
    try:
        parsed = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        # RecursionError: thousands of nested brackets, before MAX_DEPTH is checked.
        message = str(exc) if isinstance(exc, ValueError) else "nested too deep"
        raise Rejection(
            400, "invalid_json", f"body is not JSON: {message}", "body"
        ) from None
    problem = _unstorable(parsed)
    if problem:
        raise Rejection(400, "invalid_json", f"body refused: {problem}", "body")
    return parsed


def accept(kind, headers, body, secret, require_hmac, backend_ref, now):
    """Return the inbox Intake of one delivery, or raise Rejection."""
    event_type = KINDS.get(kind)
    if event_type is None:
        raise Rejection(404, "not_found", f"unknown webhook kind {kind!r}")
    check_size(len(body))
    authenticate(headers, body, secret, require_hmac, now)
    parsed = parse_json(body)
    try:
        return inbox.intake(event_type, parsed, backend_ref)
    except PayloadError as exc:
        raise Rejection(
            400, "invalid_payload", exc.message, exc.field or "body"
        ) from exc
