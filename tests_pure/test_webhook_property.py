"""Property: the webhook door's rules either accept a delivery or reject it cleanly.

For any bytes and any headers, `core.webhook.accept` returns an Intake or raises
its Rejection (a 4xx with a JSON body): never another exception, which the
controller would turn into a 5xx. What it accepts can be stored as it is (no NUL,
no lone surrogate, no NaN, integers within PostgreSQL's range).
"""

import json
import math
import time

import pytest

from core import inbox, webhook
from core.signature import SIGNATURE_HEADER, sign

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

SECRET = "s3cret-for-properties"
NOW = 1_790_000_000
INT32 = 2**31 - 1

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
timestamps = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+01:00",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59-01:00",
            "9999-12-31T23:59:59Z",
            "2026-11-22T10:00:00.123456789Z",
            "2026-13-40T99:99:99Z",
        ]
    ),
)
field_values = json_values | timestamps


@st.composite
def completions(draw):
    """A completion close to valid, with any field replaced, removed or added."""
    body = {
        "externalOrderId": "WH/MO/00001#1",
        "orderIndex": 0,
        "at": "2026-11-22T10:00:00Z",
        "operation": {"id": "op-1"},
        "operationSummary": {"consumedSerials": []},
    }
    for name in draw(st.lists(st.sampled_from(sorted(body)), max_size=3)):
        if draw(st.booleans()):
            body[name] = draw(field_values)
        else:
            body.pop(name, None)
    body.update(draw(st.dictionaries(st.text(max_size=8), json_values, max_size=2)))
    if draw(st.booleans()):
        body = {"data": {"operationOrderCompletesStream": body}}
    return body


def _dumps(value):
    return json.dumps(value, allow_nan=True).encode()


# The same JSON in the encodings a client might choose, with or without a BOM.
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"]
ENCODINGS += ["utf-32-le", "utf-32-be", "latin-1"]


@st.composite
def encoded_completions(draw):
    text = json.dumps(draw(completions()), allow_nan=True, ensure_ascii=False)
    return text.encode(draw(st.sampled_from(ENCODINGS)), "replace")


bodies = st.one_of(
    st.binary(max_size=300),
    completions().map(_dumps),
    encoded_completions(),
    json_values.map(_dumps),
    st.integers(min_value=1, max_value=50_000).map(
        lambda depth: b"[" * depth + b"]" * depth
    ),
    st.text().map(lambda text: text.encode("utf-8", "surrogatepass")),
)
content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8"]
    + [f"application/json; charset={name}" for name in ENCODINGS]
    + ['application/json; charset="UTF-16"', "application/json;charset=", "text/plain"]
)
headers = st.dictionaries(
    st.sampled_from([webhook.SECRET_HEADER, SIGNATURE_HEADER, "Content-Type"])
    | st.text(max_size=10),
    st.text(max_size=60),
    max_size=4,
) | st.fixed_dictionaries({"Content-Type": content_types})


def _check_storable(value):
    if isinstance(value, str):
        assert "\x00" not in value
        value.encode("utf-8")  # no lone surrogate
    elif isinstance(value, float):
        assert math.isfinite(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_storable(key)
            _check_storable(item)
    elif isinstance(value, list):
        for item in value:
            _check_storable(item)


def _accept(kind, given_headers, body, require_hmac, now=NOW):
    try:
        result = webhook.accept(kind, given_headers, body, SECRET, require_hmac, 7, now)
    except webhook.Rejection as rejection:
        assert 400 <= rejection.status < 500
        json.dumps(rejection.body)
        assert rejection.body["error"] and rejection.body["message"]
        return None
    assert isinstance(result, inbox.Intake)
    _check_storable(result.data)
    # The controller stores the body's text as it came: it must be the text parsed.
    text = body.decode("utf-8", "replace")
    _check_storable(text)
    assert json.loads(text.removeprefix("\ufeff")) is not None
    if result.order_index is not None:
        assert 0 <= result.order_index <= INT32
    return result


@hypothesis.settings(max_examples=400, deadline=None)
@hypothesis.given(
    kind=st.sampled_from(["completion", "version", "other"]),
    given_headers=headers,
    body=bodies,
    require_hmac=st.booleans(),
)
def test_any_bytes_and_headers(kind, given_headers, body, require_hmac):
    _accept(kind, given_headers, body, require_hmac)


@hypothesis.settings(max_examples=600, deadline=None)
@hypothesis.given(
    kind=st.sampled_from(["completion", "version"]),
    body=bodies,
    require_hmac=st.booleans(),
    signed_at=st.integers(min_value=-(10**30), max_value=10**30)
    | st.just(NOW)
    | st.integers(min_value=NOW - 400, max_value=NOW + 400),
    extra=headers,
)
def test_authenticated_bodies(kind, body, require_hmac, signed_at, extra):
    """With the right secret (and signatures of any age) the body is what counts."""
    given = dict(extra)
    given[webhook.SECRET_HEADER] = SECRET
    given[SIGNATURE_HEADER] = f"t={signed_at},v1={sign(SECRET, signed_at, body)}"
    _accept(kind, given, body, require_hmac)


@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(header=st.text(max_size=80))
def test_any_signature_header(header):
    given = {webhook.SECRET_HEADER: SECRET, SIGNATURE_HEADER: header}
    _accept("completion", given, b"{}", True, now=time.time())


def test_valid_delivery_is_accepted():
    """The property above is not vacuous: a right delivery gives an Intake."""
    body = _dumps(
        {
            "externalOrderId": "WH/MO/00001#1",
            "orderIndex": 0,
            "at": "2026-11-22T10:00:00Z",
            "operationSummary": {},
        }
    )
    intake = _accept("completion", {webhook.SECRET_HEADER: SECRET}, body, False)
    assert intake.external_order_id == "WH/MO/00001#1"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"externalOrderId": "x", "at": NaN}', "body"),
        (b"[" * 100_000 + b"]" * 100_000, "body"),
        (b'{"externalOrderId": "a\\u0000b"}', "body"),
        (b'{"externalOrderId": "\\ud800"}', "body"),
    ],
)
def test_unstorable_bodies_are_400(body, field):
    with pytest.raises(webhook.Rejection) as caught:
        webhook.accept(
            "completion", {webhook.SECRET_HEADER: SECRET}, body, SECRET, False, 7, NOW
        )
    assert caught.value.status == 400
    assert caught.value.body["field"] == field


def test_out_of_range_facts_are_400():
    """Values the database cannot hold are refused at the door, naming the field."""
    base = {
        "externalOrderId": "WH/MO/00001#1",
        "orderIndex": 0,
        "at": "2026-11-22T10:00:00Z",
        "operationSummary": {},
    }
    for name, value in [
        ("orderIndex", 2**40),
        ("externalOrderId", "x" * 5000),
        ("at", "0001-01-01T00:00:00+01:00"),
    ]:
        body = _dumps(dict(base, **{name: value}))
        with pytest.raises(webhook.Rejection) as caught:
            webhook.accept(
                "completion",
                {webhook.SECRET_HEADER: SECRET},
                body,
                SECRET,
                False,
                7,
                NOW,
            )
        assert caught.value.status == 400
        assert caught.value.body["field"] == name, caught.value.body


# --- Encodings: JSON bodies are UTF-8 (RFC 8259); others are refused by name ---
COMPLETION = {
    "externalOrderId": "WH/MO/00001#1",
    "orderIndex": 0,
    "at": "2026-11-22T10:00:00Z",
    "operation": {"id": "op-1"},
    "operationSummary": {"consumedSerials": [{"externalId": "M", "value": "Motör-1"}]},
}


def _deliver(body, content_type="application/json"):
    return webhook.accept(
        "completion",
        {webhook.SECRET_HEADER: SECRET, "Content-Type": content_type},
        body,
        SECRET,
        False,
        7,
        NOW,
    )


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_bodies_are_415_naming_the_encoding(encoding):
    """Python's parser reads them; the door refuses them before anything is stored."""
    body = json.dumps(COMPLETION, ensure_ascii=False).encode(encoding)
    assert json.loads(body) == COMPLETION  # what made them slip through before
    with pytest.raises(webhook.Rejection) as caught:
        _deliver(body)
    assert caught.value.status == 415
    assert caught.value.body["error"] == "unsupported_charset"
    assert f"encoded as {encoding}, not UTF-8" in caught.value.body["message"]


@pytest.mark.parametrize(
    ("content_type", "named"),
    [
        ("application/json; charset=utf-16", "utf-16"),
        ('application/json; charset="ISO-8859-1"', "iso-8859-1"),
        ("application/json;CHARSET=Windows-1252 ; q=1", "windows-1252"),
    ],
)
def test_declared_charsets_other_than_utf8_are_415(content_type, named):
    body = json.dumps(COMPLETION, ensure_ascii=False).encode()
    with pytest.raises(webhook.Rejection) as caught:
        _deliver(body, content_type)
    assert caught.value.status == 415
    assert caught.value.body["field"] == "Content-Type"
    assert f"charset {named} " in caught.value.body["message"]


def test_declared_charset_of_an_ascii_body_has_no_effect():
    """ASCII reads alike in every ASCII-based charset (RFC 8259: no charset)."""
    body = json.dumps(COMPLETION).encode()
    for content_type in ("application/json; charset=ISO-8859-1", "x; charset=utf-16"):
        assert _deliver(body, content_type).external_order_id == "WH/MO/00001#1"


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=UTF8",
    ],
)
def test_utf8_is_accepted_with_or_without_charset_and_bom(content_type):
    body = json.dumps(COMPLETION, ensure_ascii=False).encode()
    for given in (body, b"\xef\xbb\xbf" + body):
        intake = _deliver(given, content_type)
        assert intake.data["operationSummary"]["consumedSerials"][0]["value"] == (
            "Motör-1"
        )


def test_bytes_that_are_not_utf8_are_400_naming_the_byte():
    body = json.dumps(COMPLETION, ensure_ascii=False).encode("latin-1")
    with pytest.raises(webhook.Rejection) as caught:
        _deliver(body)
    assert caught.value.status == 400
    assert "byte 0xf6 at position" in caught.value.body["message"]


def test_charset_parameter():
    assert webhook.charset("application/json") is None
    assert webhook.charset(None) is None
    assert webhook.charset("application/json; charset=UTF-16") == "utf-16"
    assert webhook.charset('application/json; boundary=x; charset="utf-8"') == "utf-8"
    assert webhook.charset("application/json; charset=") is None


@pytest.mark.parametrize("error", [TimeoutError("timed out"), ConnectionResetError()])
def test_a_body_that_does_not_arrive_is_408(error):
    """A chunk late past the server's socket timeout is the client's, not a 500."""

    def read():
        raise error

    with pytest.raises(webhook.Rejection) as caught:
        webhook.read_body(read)
    assert caught.value.status == 408
    assert type(error).__name__ in caught.value.body["message"]
    assert webhook.read_body(lambda: b"{}") == b"{}"
