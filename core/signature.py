"""Webhook authenticity: shared-secret comparison and HMAC signatures."""

import hashlib
import hmac
from datetime import datetime

SIGNATURE_HEADER = "X-Pico-Signature"


def _bytes(value):
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def secrets_match(expected, given):
    """Return True when a received secret equals the configured one."""
    # An unset secret must never authenticate anybody, even an empty header.
    if not expected or given is None:
        return False
    return hmac.compare_digest(_bytes(expected), _bytes(given))


def sign(secret, timestamp, body):
    """Return the hex HMAC-SHA256 of f"{timestamp}." + body."""
    message = f"{int(timestamp)}.".encode() + _bytes(body)
    return hmac.new(_bytes(secret), message, hashlib.sha256).hexdigest()


def parse_signature_header(header_value):
    """Return (timestamp, [v1 signatures]) from `t=<unix>,v1=<hex>[,v1=<hex>]`."""
    timestamp = None
    signatures = []
    for item in (header_value or "").split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value:
            try:
                timestamp = int(value)
            except ValueError:
                return None, []
        elif key == "v1" and value:
            signatures.append(value.lower())
    return timestamp, signatures


def verify_hmac(secret, header_value, body, now, window=300):
    """Return True when the signature header is valid for body and fresh at `now`."""
    if not secret:
        return False
    timestamp, signatures = parse_signature_header(header_value)
    if timestamp is None or not signatures:
        return False
    if isinstance(now, datetime):
        now = now.timestamp()
    # Reject old (replayed) and far-future (clock-skewed) deliveries alike.
    try:
        skew = abs(float(now) - timestamp)
    except OverflowError:  # a timestamp of hundreds of digits
        return False
    if skew > window:
        return False
    expected = sign(secret, timestamp, body).encode("ascii")
    # Several v1 values let the sender sign with an old and a new secret during
    # a rotation; compare all of them so timing does not reveal which matched.
    matched = False
    for candidate in signatures:
        # Bytes, because compare_digest refuses non-ASCII str from a forged header.
        matched |= hmac.compare_digest(expected, candidate.encode("utf-8"))
    return matched
