"""What a webhook door checks before it stores anything: size, secret, body.

Pure functions on plain data (headers mapping, body bytes), so the Odoo controller
stays a thin route and these rules are tested without Odoo.
"""

import json

from . import inbox, payloads
from .errors import PayloadError
from .signature import SIGNATURE_HEADER, secrets_match, verify_hmac

SECRET_HEADER = "X-Pico-Webhook-Secret"
MAX_BODY_BYTES = payloads.MAX_BODY_BYTES
HMAC_WINDOW_SECONDS = 300
# URL kind -> inbox event type.
KINDS = {
    "completion": inbox.COMPLETION,
    "version": inbox.PRODUCTION_VERSION,
    "note": inbox.NOTE,
}


class Rejection(Exception):
    """A refused delivery: HTTP status plus a JSON body naming the problem."""

    def __init__(self, status, error, message, field=None):
        super().__init__(message)
        self.status = status
        self.body = {"error": error, "message": message}
        if field is not None:
            self.body["field"] = field


def read_body(read):
    """Return the body `read()` reads, or raise a 408 Rejection when it fails.

    A chunked body whose next chunk does not come within the server's socket
    timeout (2 s in Odoo's prefork workers), or a connection that drops while
    the body is read, raises an OSError in the server's reader: a 408, not a 500.
    """
    try:
        return read()
    except OSError as exc:
        raise Rejection(
            408,
            "timeout",
            f"the body did not arrive whole ({type(exc).__name__})",
            "body",
        ) from None


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


# JSON exchanged between systems is UTF-8 (RFC 8259, section 8.1); the text is
# stored as it came, so a body in any other encoding is refused, not guessed.
CHARSETS = frozenset({"utf-8", "utf8"})
UTF8_BOM = b"\xef\xbb\xbf"


def charset(content_type):
    """The charset parameter of a Content-Type header, lower case, or None."""
    for param in (content_type or "").split(";")[1:]:
        name, _sep, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').strip().lower() or None
    return None


def decode(headers, body):
    """Return the text of a UTF-8 body, or raise a 415 or 400 Rejection.

    A body in UTF-16 or UTF-32 (with or without a byte order mark) is refused
    (415) by the encoding found: Python's JSON parser would read it, but its text
    would not be the bytes stored. A declared charset other than UTF-8 is refused
    by name unless the body is ASCII, the same text in any ASCII-based charset
    (RFC 8259 defines no charset parameter: it has no effect on a compliant
    recipient). A UTF-8 byte order mark is ignored, as RFC 8259 allows; bytes
    that are not UTF-8 are a 400.
    """
    body = bytes(body)
    found = json.detect_encoding(body)
    if found not in ("utf-8", "utf-8-sig"):
        raise Rejection(
            415,
            "unsupported_charset",
            f"body is encoded as {found}, not UTF-8: send the JSON body as UTF-8 "
            "(RFC 8259)",
            "body",
        )
    declared = charset(headers.get("Content-Type"))
    if declared not in (None, *CHARSETS) and not body.isascii():
        raise Rejection(
            415,
            "unsupported_charset",
            f"charset {declared} is not accepted: send the JSON body as UTF-8 "
            "(RFC 8259)",
            "Content-Type",
        )
    body = body.removeprefix(UTF8_BOM)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejection(
            400,
            "invalid_json",
            f"body is not UTF-8: byte 0x{body[exc.start]:02x} at position {exc.start}",
            "body",
        ) from None


def parse_json(text):
    """Parse a body's text into what the database can hold, or raise a 400."""
    try:
        return payloads.loads(text)
    except PayloadError as exc:
        raise Rejection(400, "invalid_json", exc.message, "body") from None


def accept(kind, headers, body, secret, require_hmac, backend_ref, now):
    """Return the inbox Intake of one delivery, or raise Rejection."""
    event_type = KINDS.get(kind)
    if event_type is None:
        raise Rejection(404, "not_found", f"unknown webhook kind {kind!r}")
    check_size(len(body))
    authenticate(headers, body, secret, require_hmac, now)
    parsed = parse_json(decode(headers, body))
    try:
        return inbox.intake(event_type, parsed, backend_ref)
    except PayloadError as exc:
        raise Rejection(
            400, "invalid_payload", exc.message, exc.field or "body"
        ) from exc
