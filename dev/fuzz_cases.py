"""The requests of dev/fuzz_webhook.py: hypothesis strategies of one Case each.

Imported by dev/fuzz_webhook.py once it runs with a Python that has hypothesis
(dev/requirements-test.txt); never by the addon.
"""

import dataclasses
import datetime
import json

import hypothesis
from hypothesis import strategies as st

MAX_BODY = 1024 * 1024

# Encodings, byte order marks and declared charsets of the "encodings" family: the
# door takes UTF-8 JSON (RFC 8259) and answers the rest with a 4xx naming it.
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32")
ENCODINGS += ("utf-32-le", "utf-32-be", "latin-1", "cp1252", "shift_jis")
BOMS = (b"",) * 6 + (
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\xff\xfe\x00\x00",
    b"\x00\x00\xfe\xff",
)
CHARSETS = ("utf-8", "UTF-8", "utf-16", "utf-16le", "utf-32", "iso-8859-1", "latin-1")
CHARSETS += ("windows-1252", "us-ascii", "shift_jis", "ebcdic", "nonsense")

# Schema-valid dates at the edges of what a datetime holds.
YEAR_EDGES = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00-01:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59+01:00",
]
NASTY = [
    "'; DROP TABLE pico_event; --",
    "' OR '1'='1",
    "1); SELECT pg_sleep(5); --",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{7*7}}${7*7}%s%n",
    "../../../../etc/passwd",
    "\u202e\ufeff\u200b",
    "\\u0000",
    "\x00",
    "\ud800",
    "🏭" * 50,
    "x" * 5000,
]
DATES = [
    *YEAR_EDGES,
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-12:00",
    "2026-02-30T10:00:00Z",
    "2026-11-22T10:00:00.123456789Z",
    "2026-11-22 10:00:00",
    "yesterday",
]
CHARSET_TYPES = (
    ["application/json", "application/json;charset=", "text/json; charset=utf-8"]
    + [f"application/json; charset={name}" for name in CHARSETS]
    + ['application/json; charset="UTF-16"', "application/json; Charset=UTF8"]
)
CONTENT_TYPES = [
    "application/json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "multipart/form-data",
    "application/xml",
    "application/json; charset=latin-1",
    None,
]


@dataclasses.dataclass
class Case:
    family: str
    target: str  # backend: a (plain), h (HMAC required), b (company B), x (unknown)
    kind: str  # completion | version | any other string
    body: bytes
    content_type: str | None = "application/json"
    secret: str = "right"  # right | wrong | none | empty
    hmac: str = "none"  # none | fresh | expired | future | replay | wrong | garbage
    chunked: bool = False
    extra_headers: dict = dataclasses.field(default_factory=dict)


def dumps(value):
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


class Strategies:
    """The pieces of the cases: values, nasty strings, dates, bodies of both
    kinds (valid or broken), bodies in other encodings, request headers."""

    def __init__(self, facts):
        scalars = (
            st.none()
            | st.booleans()
            | st.integers(min_value=-(10**400), max_value=10**400)
            | st.floats(allow_nan=True, allow_infinity=True)
            | st.text(max_size=40)
        )
        self.values = st.recursive(
            scalars,
            lambda children: (
                st.lists(children, max_size=4)
                | st.dictionaries(st.text(max_size=10), children, max_size=4)
            ),
            max_leaves=25,
        )
        self.nasty = st.sampled_from(NASTY)
        self.dates = st.sampled_from(DATES)
        self.refs = facts["order_refs"] or ["WH/MO/00001#1"]
        self.operations = facts["operation_ids"] or ["op-1"]
        self.fields = self.values | self.nasty | self.dates
        self.kinds = st.sampled_from(["completion", "version"])
        self.targets = st.sampled_from(["a", "b", "h"])

    def case(self, family, body, **fixed):
        return st.builds(
            Case,
            family=st.just(family),
            target=fixed.pop("target", self.targets),
            kind=fixed.pop("kind", self.kinds),
            body=body,
            secret=fixed.pop("secret", st.just("right")),
            hmac=fixed.pop("hmac", st.just("fresh")),
            **{
                k: st.just(v) if not isinstance(v, st.SearchStrategy) else v
                for k, v in fixed.items()
            },
        )


@st.composite
def completion(draw, s, valid=True):
    """A schema-valid completion (facts may be wrong), or a broken one."""
    good_time = st.datetimes(
        min_value=datetime.datetime(2020, 1, 1),  # noqa: DTZ001
        max_value=datetime.datetime(2030, 1, 1),  # noqa: DTZ001
    ).map(lambda d: d.isoformat() + "Z")
    body = {
        "externalOrderId": draw(
            st.sampled_from(s.refs)
            | st.just("WH/MO/99999#999999")
            | st.text(min_size=1, max_size=40)
        ),
        "orderIndex": draw(
            st.integers(min_value=0, max_value=5)
            | st.sampled_from([0, 2**31 - 1, 10**6])
        ),
        "at": draw(good_time | st.sampled_from(YEAR_EDGES)),
        "operation": {"id": draw(st.sampled_from(s.operations))},
        "operationSummary": {
            "consumedSerials": draw(
                st.lists(
                    st.fixed_dictionaries(
                        {
                            "externalId": st.text(min_size=1, max_size=8),
                            "value": st.text(min_size=1, max_size=20),
                        }
                    ),
                    max_size=3,
                )
            ),
            "endState": {"producedSerial": draw(st.text(max_size=20) | s.nasty)},
        },
    }
    if not valid:
        _break(draw, s, body, st.sampled_from([-1, 2**31, 2**63, 10**30]))
    if draw(st.booleans()):
        body = {"data": {"operationOrderCompletesStream": body}}
    return body


def _break(draw, s, body, indexes):
    """A completion broken: its index and time wrong, fields of any type or
    missing, fields added."""
    body["orderIndex"] = draw(indexes | s.fields)
    body["at"] = draw(s.dates | s.fields)
    for name in draw(st.lists(st.sampled_from(sorted(body)), max_size=3)):
        if draw(st.booleans()):
            body[name] = draw(s.fields)
        else:
            body.pop(name, None)
    body.update(draw(st.dictionaries(st.text(max_size=8), s.values, max_size=3)))


@st.composite
def operation(draw, s, valid=True):
    body = {
        "id": draw(st.sampled_from(s.operations) | st.text(min_size=1, max_size=12)),
        "name": draw(st.text(min_size=1, max_size=30) | s.nasty),
        "updatedAt": "2026-11-22T10:00:00Z",
        "externalId": draw(st.text(max_size=12)),
        "consumedSerials": [],
    }
    if not valid:
        for name in draw(st.lists(st.sampled_from(sorted(body)), max_size=2)):
            body[name] = draw(s.fields)
        body.update(draw(st.dictionaries(st.text(max_size=8), s.values, max_size=3)))
    if draw(st.booleans()):
        body = {"data": {"operationsStream": body}}
    return body


@st.composite
def encoded(draw, body):
    """A body's JSON in one of the encodings a client might choose, maybe
    behind a byte order mark (its own, another's, or one added twice)."""
    text = json.dumps(draw(body), allow_nan=True, ensure_ascii=False)
    encoding = draw(st.sampled_from(ENCODINGS))
    errors = "surrogatepass" if encoding.startswith("utf") else "replace"
    raw = text.encode(encoding, errors)
    return draw(st.sampled_from(BOMS)) + raw


def strategies(facts):
    """The hypothesis strategy of one Case; `facts` are the setup's results."""
    pieces = Strategies(facts)
    return st.one_of(*_body_families(pieces), *_door_families(pieces))


def _body_families(s):
    """Cases whose body is what is wrong (or right)."""
    case = s.case
    bodies_any = completion(s, valid=False).map(dumps) | operation(s, valid=False).map(
        dumps
    )
    return [
        case("random JSON", s.values.map(dumps)),
        case(
            "deep nesting",
            st.integers(min_value=2, max_value=100_000).flatmap(
                lambda depth: st.sampled_from(
                    [
                        b"[" * depth + b"]" * depth,
                        b'{"a":' * depth + b"1" + b"}" * depth,
                        b"[" * depth,
                    ]
                )
            ),
        ),
        case("wrong types", bodies_any),
        case("valid completion", completion(s).map(dumps), kind=st.just("completion")),
        case("valid version", operation(s).map(dumps), kind=st.just("version")),
        case("invalid UTF-8", st.binary(max_size=400)),
        case(
            "unicode",
            st.text(max_size=200).map(
                lambda t: json.dumps({"externalOrderId": t, "at": t}).encode()
            )
            | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
        ),
        case(
            "oversized",
            st.integers(min_value=MAX_BODY + 1, max_value=MAX_BODY + 300_000).map(
                lambda size: b'{"pad": "' + b"x" * size + b'"}'
            ),
            chunked=st.booleans(),
        ),
        case("chunked", bodies_any, chunked=True),
        case("content type", bodies_any, content_type=st.sampled_from(CONTENT_TYPES)),
    ]


def _door_families(s):
    """Cases of the door's other checks: facts, secrets, signatures, URLs,
    empty bodies, encodings."""
    case = s.case
    charsets = st.sampled_from(CHARSET_TYPES)
    return [
        case(
            "wrong facts",
            completion(s).map(dumps),
            kind=st.just("completion"),
            target=st.sampled_from(["a", "b"]),
        ),
        case(
            "SQL/HTML/script",
            st.tuples(completion(s, valid=False), s.nasty).map(
                lambda pair: dumps(
                    {**pair[0], "externalOrderId": pair[1], "note": pair[1]}
                )
            ),
        ),
        case(
            "HMAC",
            completion(s).map(dumps) | operation(s).map(dumps),
            target=st.just("h"),
            hmac=st.sampled_from(
                ["fresh", "expired", "future", "replay", "wrong", "garbage", "none"]
            ),
        ),
        case(
            "secret",
            completion(s).map(dumps),
            secret=st.sampled_from(["right"] * 6 + ["wrong", "none", "empty"]),
        ),
        case(
            "unknown URL",
            completion(s).map(dumps),
            target=st.sampled_from(["x", "a"]),
            kind=st.sampled_from(["completion", "other", "", "x" * 300, "version/x"]),
        ),
        case("empty", st.sampled_from([b"", b" ", b"null", b"{}", b"[]", b'""'])),
        case(
            "encodings",
            encoded(completion(s) | completion(s, valid=False)),
            kind=st.just("completion"),
            content_type=charsets,
        ),
        case(
            "encodings",
            encoded(operation(s)),
            kind=st.just("version"),
            content_type=charsets,
        ),
    ]


def generate(facts, count, seed, sink=None):
    """Draw `count` cases with hypothesis (reproducible with the seed).

    Each case goes to `sink` as soon as it is drawn (the sender works meanwhile);
    without a sink, return the list.
    """
    cases = []
    sink = sink or cases.append
    strategy = strategies(facts)
    drawn = 0
    round_seed = seed
    while drawn < count:

        @hypothesis.seed(round_seed)
        @hypothesis.settings(
            max_examples=count - drawn,
            database=None,
            deadline=None,
            phases=[hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        @hypothesis.given(strategy)
        def draw(case):
            nonlocal drawn
            if drawn < count:
                drawn += 1
                sink(case)

        draw()
        round_seed += 1
    return cases
