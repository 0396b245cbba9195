"""What a webhook door checks before it stores anything: size, secret, body.

Pure functions on plain data (headers mapping, body bytes), so the Odoo controller
stays a thin route and these rules are tested without Odoo.
"""

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


def parse_json(body):
    """Parse a body into what the database can hold, or raise a 400 Rejection."""
    try:
        return payloads.loads(body)
    except PayloadError as exc:
        raise Rejection(400, "invalid_json", exc.message, "body") from None


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
