"""Webhook secrets and HMAC signatures."""

import hashlib
import hmac
from datetime import datetime, timezone

import pytest

from core.signature import parse_signature_header, secrets_match, sign, verify_hmac

SECRET = "s3cret"
BODY = b'{"data": {"operationOrderCompletesStream": {"externalOrderId": "X"}}}'
T = 1_736_937_727


def _header(timestamp=T, body=BODY, secret=SECRET):
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def test_sign_matches_documented_construction():
    """sign() is HMAC-SHA256 over "<t>." + body, hex encoded."""
    expected = hmac.new(b"s3cret", b"1736937727." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, T, BODY) == expected
    assert sign(SECRET, T, BODY.decode()) == expected


def test_verify_accepts_a_fresh_valid_signature():
    """A correct signature within the window passes."""
    assert verify_hmac(SECRET, _header(), BODY, now=T + 10)


@pytest.mark.parametrize("offset", [301, -301])
def test_verify_rejects_outside_window(offset):
    """Replays and far-future timestamps fail."""
    assert not verify_hmac(SECRET, _header(), BODY, now=T + offset)
    assert verify_hmac(SECRET, _header(), BODY, now=T + offset, window=400)


def test_verify_window_edge_is_inclusive():
    """Exactly `window` seconds old still passes."""
    assert verify_hmac(SECRET, _header(), BODY, now=T + 300)


def test_verify_accepts_datetime_now():
    """`now` may be an aware datetime."""
    now = datetime.fromtimestamp(T + 5, tz=timezone.utc)
    assert verify_hmac(SECRET, _header(), BODY, now=now)


def test_verify_rejects_tampered_body_and_wrong_secret():
    """The signature binds the body and the secret."""
    assert not verify_hmac(SECRET, _header(), BODY + b" ", now=T)
    assert not verify_hmac("other", _header(), BODY, now=T)


def test_verify_rejects_timestamp_swap():
    """The timestamp is signed too: changing it breaks the signature."""
    forged = _header().replace(f"t={T}", f"t={T + 1}")
    assert not verify_hmac(SECRET, forged, BODY, now=T)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        f"t={T}",
        "v1=abcdef",
        f"t=notanumber,v1={sign(SECRET, T, BODY)}",
        f"t={T},v1=é",
    ],
)
def test_verify_rejects_malformed_headers(header):
    """Malformed headers fail closed, without raising."""
    assert not verify_hmac(SECRET, header, BODY, now=T)


def test_verify_accepts_any_of_several_v1_during_rotation():
    """During a secret rotation either signature may match."""
    header = f"t={T},v1={sign('old', T, BODY)},v1={sign(SECRET, T, BODY)}"
    assert verify_hmac(SECRET, header, BODY, now=T)
    assert verify_hmac("old", header, BODY, now=T)
    assert not verify_hmac("third", header, BODY, now=T)


def test_verify_with_empty_secret_fails():
    """An unconfigured secret never validates, even a matching empty-key HMAC."""
    assert not verify_hmac("", _header(secret=""), BODY, now=T)


def test_parse_signature_header():
    """Header parts are read in any order, with spaces tolerated."""
    assert parse_signature_header(" v1=AB , t=5 ") == (5, ["ab"])


def test_secrets_match():
    """Equal secrets match; unset or different ones do not."""
    assert secrets_match("abc", "abc")
    assert secrets_match(b"abc", "abc")
    assert not secrets_match("abc", "abd")
    assert not secrets_match("abc", None)
    assert not secrets_match("", "")
    assert not secrets_match(None, "abc")
