"""BOM transfer: an Odoo bill of materials as Pico Work Instructions API documents.

Pico's Work Instructions API (alpha, ../shared/pico-api.md §1.4) creates processes,
products and stations from an ERP. Only the mutation names, the id pattern and the
shape of `ProcessCreateInput` are documented; everything else here is a decision
written in the README (docs/DECISIONS_BOM_TRANSFER.md) and served by the
simulator exactly as decided.

Pure functions on plain data: the Odoo model turns a BOM into `BomIn`, calls
`plan`, pins the ids the plan assigned and queues the documents in the outbox.

Ids
---
Pico ids must match ``^[a-z0-9_]{3,50}$`` (case-insensitive). `normalise_id` turns
an internal reference into one:

1. accented letters lose their accent (NFKD), other non-ASCII characters are dropped;
2. lower case;
3. every run of characters outside ``[a-z0-9]`` becomes one ``_``; ``_`` is trimmed
   at both ends;
4. shorter than 3 characters: ``_id`` is appended ("A1" -> "a1_id"); nothing left
   at all: no id (the caller names the problem);
5. longer than 50: cut to 43 characters and ``_`` + the first 6 hex digits of the
   SHA-1 of the original text appended, so long references sharing a prefix
   still differ.

Collision rule (`assign_id`): an id belongs to the first record it was pinned to.
When the normalised candidate is already held by another record (another BOM,
another operation, an operation of Pico's catalogue Odoo did not create), the
candidate is cut to 43 characters and ``_`` + 6 hex digits of the SHA-1 of the
record's own stable key ("bom:12", "operation:40", "workcenter:3") is appended;
should that be taken too, ``_2``, ``_3``… follow. The result depends only on the
record and on ids already pinned, never on the order records are listed in, and
once pinned (stored on the record) an id never changes: renaming an operation or
editing a reference does not create a second process in Pico.

Which ids:

* product: the finished product's internal reference ("DRONE-100" -> "drone_100");
* process: product id + ``_`` + the operation's name ("drone_100_frame_assembly");
* station: the work centre's code, else its name;
* consumed serial: the component's internal reference, unique within the product
  (a second line of the same part number takes the collision suffix of its line);
* step: ``step_1``, ``step_2``… within its process, as in Pico's documented example.
"""

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser

from .mapping import Change

ID_PATTERN = re.compile(r"^[a-z0-9_]{3,50}$", re.IGNORECASE)
MIN_LENGTH = 3
MAX_LENGTH = 50
HASH_LENGTH = 6
SHORT_SUFFIX = "_id"
STEP_NAME_LIMIT = 80

# The three documented (alpha) mutation names. Input type names other than
# ProcessCreateInput and the answer's scalar type are decisions.
PROCESS_CREATE = "processCreate"
PRODUCT_CREATE = "productCreate"
STATION_CREATE = "stationCreate"
MUTATIONS = (STATION_CREATE, PROCESS_CREATE, PRODUCT_CREATE)
INPUT_TYPES = {
    STATION_CREATE: "StationCreateInput",
    PROCESS_CREATE: "ProcessCreateInput",
    PRODUCT_CREATE: "ProductCreateInput",
}
# Called without a selection set, as Pico's example does: the answer is a scalar
# whose type is not documented, and the addon does not depend on it.
DOCUMENTS = {
    name: f"mutation {name[0].upper()}{name[1:]}($input: {type_name}!) "
    f"{{ {name}(input: $input) }}\n"
    for name, type_name in INPUT_TYPES.items()
}


def _lt(text):
    """Mark a template for translation export; the Odoo side translates it."""
    return text


MESSAGES = {
    "no_product_code": _lt(
        "Product %(product)s has no internal reference; Pico's product id and "
        "part number are made from it."
    ),
    "no_operations": _lt(
        "This bill of materials has no operations; Pico builds a product by "
        "running its processes, one per operation."
    ),
    "component_no_code": _lt(
        "Component %(component)s is tracked by serial numbers but has no internal "
        "reference; it is the part number Pico captures."
    ),
    "no_usable_id": _lt(
        "%(what)s %(name)s gives no usable Pico id: its reference has no letter or "
        "digit. Change it, or set the Pico id by hand."
    ),
    "bad_pinned_id": _lt(
        "%(what)s %(name)s has the Pico id %(id)s, which does not match "
        "^[a-z0-9_]{3,50}$."
    ),
}


class Problem(Change):
    """A reason a BOM cannot be sent; `template % params` is the message.

    The same coded, translatable message as a mapping change (core.mapping).
    """


def _problem(code, **params):
    return Problem(code, MESSAGES[code], params)


class TransferError(ValueError):
    """The BOM cannot be turned into documents; `problems` says why."""

    def __init__(self, problems):
        super().__init__("; ".join(problem.message for problem in problems))
        self.problems = tuple(problems)


# --- Ids -------------------------------------------------------------------------


def _digest(text):
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def _suffixed(base, suffix):
    """`base` cut so that base + suffix fits MAX_LENGTH, without a trailing _."""
    head = base[: MAX_LENGTH - len(suffix)].rstrip("_")
    return f"{head}{suffix}"


def normalise_id(text):
    """Return the Pico id of a reference, or "" when nothing usable is left."""
    if not text:
        return ""
    folded = unicodedata.normalize("NFKD", str(text))
    ascii_text = folded.encode("ascii", "ignore").decode("ascii").lower()
    candidate = re.sub(r"[^a-z0-9]+", "_", ascii_text).strip("_")
    if not candidate:
        return ""
    if len(candidate) < MIN_LENGTH:
        candidate += SHORT_SUFFIX
    if len(candidate) > MAX_LENGTH:
        candidate = _suffixed(candidate, "_" + _digest(str(text)))
    return candidate


def is_valid_id(value):
    """Whether Pico accepts `value` as an id."""
    return bool(value) and bool(ID_PATTERN.match(value))


def assign_id(candidate, owner, taken):
    """Return the id for `owner` (a stable key such as "bom:12").

    `taken` maps ids (lower case) already pinned or present in Pico to their owner
    key (None for an owner outside Odoo). The candidate is kept when it is free or
    already `owner`'s; otherwise the collision rule of this module applies.
    """
    if not candidate:
        return ""

    def free(value):
        holder = taken.get(value.lower(), owner)
        return holder == owner

    if free(candidate):
        return candidate
    hashed = _suffixed(candidate, "_" + _digest(owner))
    if free(hashed):
        return hashed
    number = 2
    while True:
        numbered = _suffixed(candidate, f"_{number}")
        if free(numbered):
            return numbered
        number += 1


def join_ids(*parts):
    """Join normalised parts with _ and normalise the result (length, hash)."""
    return normalise_id("_".join(part for part in parts if part))


# --- Notes as steps ------------------------------------------------------------

_BLOCKS = frozenset(
    {"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "tr"}
)


class _BlockCollector(HTMLParser):
    """Collects the text of block elements; <br> ends a line inside a block."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks = []
        self._current = []
        self._skip = 0

    def _flush(self):
        text = "".join(self._current)
        lines = [" ".join(line.split()) for line in text.split("\n")]
        text = "\n".join(line for line in lines if line)
        if text:
            self.blocks.append(text)
        self._current = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "br":
            self._current.append("\n")
        elif tag in _BLOCKS or tag in ("ul", "ol", "table"):
            self._flush()

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS or tag in ("ul", "ol", "table"):
            self._flush()

    def handle_data(self, data):
        if not self._skip:
            self._current.append(data)

    def close(self):
        result = super().close()
        self._flush()
        return result


def split_note(note):
    """Return the steps of an operation note: one text per block, in order.

    An HTML note gives one step per paragraph, list item, heading or table row
    (a list's items are steps, the list itself is not); a line break stays inside
    its step. Plain text (no tags) gives one step per paragraph separated by a
    blank line, or per line when there is no blank line. Empty blocks are dropped.
    """
    if not note or not str(note).strip():
        return []
    note = str(note)
    if "<" in note and ">" in note:
        parser = _BlockCollector()
        parser.feed(note)
        parser.close()
        return parser.blocks
    text = note.replace("\r\n", "\n").strip()
    chunks = (
        re.split(r"\n\s*\n", text)
        if re.search(r"\n\s*\n", text)
        else (text.split("\n"))
    )
    steps = []
    for chunk in chunks:
        lines = [" ".join(line.split()) for line in chunk.split("\n")]
        chunk = "\n".join(line for line in lines if line)
        if chunk:
            steps.append(chunk)
    return steps


def step_name(text, number):
    """A step's name: the first line of its text, cut at STEP_NAME_LIMIT."""
    first = text.split("\n", 1)[0].strip()
    if not first:
        return f"Step {number}"
    if len(first) > STEP_NAME_LIMIT:
        return first[: STEP_NAME_LIMIT - 1].rstrip() + "…"
    return first


# --- The BOM as plain data -----------------------------------------------------


@dataclass(frozen=True)
class WorkcenterIn:
    key: str  # stable owner key, e.g. "workcenter:3"
    name: str
    code: str | None = None
    pinned_id: str | None = None


@dataclass(frozen=True)
class StepIn:
    """A BOM operation."""

    key: str  # "operation:40"
    name: str
    workcenter: WorkcenterIn
    note: str | None = None
    pinned_id: str | None = None


@dataclass(frozen=True)
class SerialIn:
    """A serial-tracked component line."""

    key: str  # "line:7"
    product_name: str
    default_code: str | None
    step_key: str | None = None


@dataclass(frozen=True)
class BomIn:
    key: str  # "bom:12"
    product_name: str
    default_code: str | None
    revision: str | None = None
    pinned_id: str | None = None
    steps: tuple[StepIn, ...] = ()
    serials: tuple[SerialIn, ...] = ()


@dataclass(frozen=True)
class Plan:
    """What to send, and the ids to pin on the records."""

    product_id: str
    process_ids: dict  # step key -> process id
    station_ids: dict  # workcenter key -> station id
    serial_ids: dict  # line key -> consumed serial id
    documents: tuple  # ({"mutation": name, "input": {...}}, ...), in sending order

    @property
    def fingerprint(self):
        return fingerprint(self.documents)


def fingerprint(documents):
    """A stable digest of documents: equal documents, equal digest."""
    canonical = json.dumps(documents, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _pinned_or_assigned(pinned, candidate, owner, taken, what, name, problems):
    if pinned:
        if not is_valid_id(pinned):
            problems.append(_problem("bad_pinned_id", what=what, name=name, id=pinned))
            return ""
        return pinned.lower()
    if not candidate:
        problems.append(_problem("no_usable_id", what=what, name=name))
        return ""
    return assign_id(candidate, owner, taken)


def _input_problems(bom):
    problems = []
    if not (bom.default_code or "").strip():
        problems.append(_problem("no_product_code", product=bom.product_name))
    if not bom.steps:
        problems.append(_problem("no_operations"))
    for serial in bom.serials:
        if not (serial.default_code or "").strip():
            problems.append(
                _problem("component_no_code", component=serial.product_name)
            )
    return problems


def _assign(bom, taken, station_taken, problems):
    """Return (product id, {step key: process id}, {workcenter key: station id})."""
    product_id = _pinned_or_assigned(
        bom.pinned_id,
        normalise_id(bom.default_code),
        bom.key,
        taken,
        "Product",
        bom.product_name,
        problems,
    )
    if product_id:
        taken[product_id] = bom.key
    process_ids, station_ids = {}, {}
    for step in bom.steps:
        candidate = join_ids(product_id, normalise_id(step.name)) if product_id else ""
        process_id = _pinned_or_assigned(
            step.pinned_id, candidate, step.key, taken, "Operation", step.name, problems
        )
        if process_id:
            taken[process_id] = step.key
        process_ids[step.key] = process_id
        center = step.workcenter
        if center.key in station_ids:
            continue
        station_id = _pinned_or_assigned(
            center.pinned_id,
            normalise_id(center.code) or normalise_id(center.name),
            center.key,
            station_taken,
            "Work center",
            center.name,
            problems,
        )
        if station_id:
            station_taken[station_id] = center.key
        station_ids[center.key] = station_id
    return product_id, process_ids, station_ids


def _serial_ids(bom):
    serial_ids, serial_taken = {}, {}
    for serial in bom.serials:
        serial_id = assign_id(
            normalise_id(serial.default_code) or _digest(serial.key),
            serial.key,
            serial_taken,
        )
        serial_taken[serial_id] = serial.key
        serial_ids[serial.key] = serial_id
    return serial_ids


def _product_input(bom, product_id, process_ids, serial_ids):
    step_keys = {step.key for step in bom.steps}
    serials = []
    for serial in bom.serials:
        item = {"id": serial_ids[serial.key], "partNumber": serial.default_code.strip()}
        if serial.step_key in step_keys:
            item["processId"] = process_ids[serial.step_key]
        serials.append(item)
    product = {
        "id": product_id,
        "name": bom.product_name,
        "partNumber": bom.default_code.strip(),
        "processIds": [process_ids[step.key] for step in bom.steps],
        "consumedSerials": serials,
    }
    if bom.revision:
        product["revision"] = bom.revision
    return product


def plan(bom, taken=None, station_taken=None):
    """Return the Plan of a BomIn, or raise TransferError listing every problem.

    `taken` holds the product and process ids already used ({id: owner key});
    `station_taken` the station ids. Both are read, never changed.
    """
    problems = _input_problems(bom)
    if problems:
        raise TransferError(problems)
    product_id, process_ids, station_ids = _assign(
        bom, dict(taken or {}), dict(station_taken or {}), problems
    )
    if problems:
        raise TransferError(problems)
    serial_ids = _serial_ids(bom)
    documents = []
    for step in bom.steps:
        center = step.workcenter
        station = {"id": station_ids[center.key], "name": center.name}
        document = {"mutation": STATION_CREATE, "input": {"station": station}}
        if document not in documents:
            documents.append(document)
    for step in bom.steps:
        documents.append(
            {
                "mutation": PROCESS_CREATE,
                "input": {"process": process_input(step, process_ids, station_ids)},
            }
        )
    product = _product_input(bom, product_id, process_ids, serial_ids)
    documents.append({"mutation": PRODUCT_CREATE, "input": {"product": product}})
    return Plan(
        product_id=product_id,
        process_ids=process_ids,
        station_ids=station_ids,
        serial_ids=serial_ids,
        documents=tuple(documents),
    )


def process_input(step, process_ids, station_ids):
    """The `process` object of a ProcessCreateInput for one BOM operation."""
    texts = split_note(step.note) or [step.name]
    steps = [
        {
            "id": f"step_{number}",
            "name": step_name(text, number),
            "instructionText": {"text": text},
        }
        for number, text in enumerate(texts, start=1)
    ]
    return {
        "id": process_ids[step.key],
        "name": step.name,
        "description": step.name,
        "stationId": station_ids[step.workcenter.key],
        "steps": steps,
    }


def missing_mutations(features):
    """Which Work Instructions mutations a detected feature set lacks.

    `features` holds core.features keys ("Mutation.processCreate", ...), as the
    backend's feature detection (introspection) stores them.
    """
    present = set(features or ())
    return [name for name in MUTATIONS if f"Mutation.{name}" not in present]


def summary(results):
    """One line per document sent: "processCreate drone_100_frame: <answer>"."""
    return "\n".join(
        f"{result['mutation']} {result['id']}: {result['answer']}" for result in results
    )


def document_id(document):
    """The id a document creates or updates."""
    payload = document["input"]
    (inner,) = payload.values()
    return inner["id"]
