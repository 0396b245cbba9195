"""Can the public Odoo URL be reached? A signed ping through it, and its answer.

Pico's API has no call that makes Pico deliver a test event (pico-api.md §3: only
webhookSubscribe and webhookSubscriptions are documented), so Odoo checks the
public URL itself: it POSTs a ping, signed with the backend's webhook secret, to
`<public URL>/pico_mes/webhook/<key>/ping`, the same path prefix Pico's deliveries
take. The door answers with a proof (an HMAC of the ping's nonce with the same
secret), so an answer from another server or another database behind the same name
does not pass. Readme: DECISIONS_API.md, "Is the public URL reachable?".

Pure functions on plain data (no Odoo), so the rules are tested without Odoo.
"""

import ipaddress
import json
import secrets
from urllib.parse import urlsplit

import requests

from .signature import SIGNATURE_HEADER, secrets_match, sign, verify_hmac

PING_KIND = "ping"
OK = "ok"
UNREACHABLE = "unreachable"  # no connection, DNS, timeout, TLS
NOT_THIS_ADDON = "not_found"  # answered, but not by this addon's door (404, HTML)
OTHER_DATABASE = "refused"  # the door answered but does not know this key/secret
INVALID_URL = "invalid_url"
ERROR = "error"  # any other answer (5xx, ...)


class PingResult:
    """The outcome of one ping: `status` (one of the constants), the URL, details,
    and `warnings` (reachable, but Pico's cloud may not be able to: http, private
    addresses)."""

    def __init__(self, status, url, detail="", http_status=None, warnings=()):
        self.status = status
        self.url = url
        self.detail = detail
        self.http_status = http_status
        self.warnings = list(warnings)

    @property
    def ok(self):
        return self.status == OK

    def __repr__(self):
        return f"PingResult({self.status!r}, {self.url!r}, {self.detail!r})"


def ping_url(base_url, route, key):
    return f"{(base_url or '').rstrip('/')}{route}/{key}/{PING_KIND}"


def warnings_for(url):
    """Why Pico (a cloud service) may not reach `url` even when Odoo can."""
    found = []
    parts = urlsplit(url)
    if parts.scheme != "https":
        found.append("not_https")
    host = parts.hostname or ""
    private = host == "localhost" or host.endswith(".local")
    try:
        address = ipaddress.ip_address(host)
        private = private or address.is_private or address.is_loopback
    except ValueError:
        pass
    if private:
        found.append("private")
    return found


def make_ping(secret, now):
    """(body bytes, headers, nonce) of a signed ping."""
    nonce = secrets.token_urlsafe(16)
    body = json.dumps({"ping": nonce}).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: f"t={int(now)},v1={sign(secret, int(now), body)}",
    }
    return body, headers, nonce


def proof(secret, nonce):
    """What the door answers to a ping: proves it holds the same secret."""
    return sign(secret, 0, nonce)


def answer_ping(headers, body, secret, now, window=300):
    """The door's side: (HTTP status, JSON body) for a ping it received."""
    if not verify_hmac(secret, headers.get(SIGNATURE_HEADER), body, now, window):
        return 401, {"error": "unauthorized", "message": "ping not signed by this key"}
    try:
        nonce = json.loads(body)["ping"]
    except (ValueError, KeyError, TypeError):
        return 400, {"error": "invalid_json", "message": "not a ping"}
    if not isinstance(nonce, str) or len(nonce) > 200:
        return 400, {"error": "invalid_json", "message": "not a ping"}
    return 200, {"status": "pong", "proof": proof(secret, nonce)}


def send(url, body, headers, timeout):
    """The HTTP call (a seam for tests that must let the request in)."""
    return requests.post(url, data=body, headers=headers, timeout=timeout)


def ping(url, secret, now, timeout=10.0):
    """POST a signed ping to `url`; return a PingResult."""
    warnings = warnings_for(url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return PingResult(INVALID_URL, url, "not an http(s) address")
    body, headers, nonce = make_ping(secret, now)
    try:
        response = send(url, body, headers, timeout)
    except requests.exceptions.InvalidURL as exc:
        return PingResult(INVALID_URL, url, str(exc))
    except requests.RequestException as exc:
        return PingResult(UNREACHABLE, url, str(exc), warnings=warnings)
    status = response.status_code
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        answer = None
    if status == 200 and answer and answer.get("status") == "pong":
        if secrets_match(proof(secret, nonce), answer.get("proof")):
            return PingResult(OK, url, http_status=status, warnings=warnings)
        return PingResult(
            OTHER_DATABASE, url, "wrong proof", http_status=status, warnings=warnings
        )
    if answer and (status, answer.get("error")) in (
        (401, "unauthorized"),
        (404, "not_found"),
    ):
        # This addon's door answered, but it does not know this key and secret.
        return PingResult(OTHER_DATABASE, url, answer.get("message", ""), status)
    if status == 404 or answer is None:
        return PingResult(NOT_THIS_ADDON, url, f"HTTP {status}", http_status=status)
    return PingResult(ERROR, url, f"HTTP {status}: {answer}", http_status=status)
