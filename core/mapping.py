"""BOM <-> Pico operation mapping: validation, suggestions and version differences.

Plain data in, plain data out, so the rules are tested without Odoo. The Odoo
models turn records into the dataclasses below and show the problems' messages.

Messages are English templates wrapped in `_lt` so that Odoo's translation export
finds them; the Odoo side translates `template` and formats it with `params`.
"""

from dataclasses import dataclass, field


def _lt(text):
    """Mark a template for translation export; the Odoo side translates it."""
    return text


# Tracking values of Odoo products, repeated here to stay Odoo-free.
TRACKING_NONE = "none"
TRACKING_LOT = "lot"
TRACKING_SERIAL = "serial"
KIT = "phantom"

# Quantities closer than this are equal (Odoo's "Product Unit" precision is 0.01
# by default; anything finer than a thousandth is rounding noise).
EPSILON = 1e-6


@dataclass(frozen=True)
class Attribute:
    """A consumed serial of a Pico operation (an Attribute on consumedSerials)."""

    key: str
    external_id: str | None = None
    # A human name from Odoo (the component product with this part number); Pico
    # documents none for an Attribute.
    label: str | None = None
    # False when the operation's current version no longer consumes it.
    active: bool = True

    @property
    def title(self):
        """Part number and product name, as a planner recognises the attribute."""
        if self.external_id and self.label:
            return f"{self.external_id} ({self.label})"
        return self.external_id or self.label or self.key


@dataclass(frozen=True)
class Operation:
    """A Pico operation as far as the mapping rules need it."""

    key: str
    name: str
    external_id: str | None = None
    revision: str | None = None
    external_codes: tuple[str, ...] = ()
    archived: bool = False
    attributes: tuple[Attribute, ...] = ()
    # Keys of every operation below this one (processes and subassemblies).
    descendant_keys: tuple[str, ...] = ()
    is_child: bool = False

    @property
    def title(self):
        """Part number and name, as Odoo shows the operation."""
        return f"[{self.external_id}] {self.name}" if self.external_id else self.name


@dataclass(frozen=True)
class Line:
    """A BOM line with what the rules need to know about its product."""

    key: object
    name: str
    default_code: str | None = None
    tracking: str = TRACKING_NONE
    # The mapped attribute: its operation's key and its own key; None when unmapped.
    attribute_key: str | None = None
    attribute_operation_key: str | None = None
    attribute_title: str | None = None
    # Quantity in the product's own unit per finished unit; None when the line's
    # unit cannot be converted to it.
    qty_per_unit: float | None = 1.0
    uom_name: str | None = None
    product_uom_name: str | None = None
    # The BOM operation (routing step) the line is consumed in, if any.
    step_key: object = None


@dataclass(frozen=True)
class Step:
    """A BOM operation (routing step) and the Pico process it is mapped to."""

    key: object
    name: str
    sequence: int = 0
    process: Operation | None = None


@dataclass(frozen=True)
class Bom:
    """A bill of materials and the Pico operation it is mapped to."""

    name: str
    product_name: str
    product_tracking: str = TRACKING_NONE
    kind: str = "normal"
    # The BOM's quantity in the finished product's own unit; None when the BOM's
    # unit cannot be converted to it.
    units: float | None = 1.0
    uom_name: str | None = None
    product_uom_name: str | None = None
    operation: Operation | None = None
    lines: tuple[Line, ...] = ()
    steps: tuple[Step, ...] = ()


@dataclass(frozen=True)
class Problem:
    """One reason a mapping cannot be released to Pico."""

    code: str
    template: str
    params: dict = field(default_factory=dict, compare=False)
    # What the problem is about: "bom", ("line", key), ("attribute", key) or
    # ("step", key); lets a form highlight the culprit.
    subject: object = "bom"

    @property
    def message(self):
        """The English message."""
        return self.template % self.params


MESSAGES = {
    "no_operation": _lt(
        "No Pico operation is chosen: pick the operation that builds %(product)s."
    ),
    "kit": _lt(
        "This is a kit bill of materials; Pico builds manufactured products only. "
        "Set the type to 'Manufacture this product'."
    ),
    "operation_archived": _lt(
        "Pico operation %(operation)s is archived in Pico; map a current one."
    ),
    "product_not_serial": _lt(
        "Finished product %(product)s is tracked by %(tracking)s; Pico gives every "
        "built unit a serial number, so track it by unique serial number."
    ),
    "bom_uom": _lt(
        "The unit %(uom)s of this bill of materials cannot be converted to "
        "%(product_uom)s, the unit of %(product)s."
    ),
    "bom_units": _lt(
        "This bill of materials makes %(units)s %(product_uom)s of %(product)s; "
        "Pico builds whole units only."
    ),
    "attribute_unmapped": _lt(
        "Consumed serial %(attribute)s of %(operation)s is not mapped to a BOM line."
    ),
    "attribute_mapped_twice": _lt(
        "Consumed serial %(attribute)s is mapped to several BOM lines: %(lines)s."
    ),
    "line_unmapped": _lt(
        "BOM line %(line)s is tracked by %(tracking)s but not mapped to a consumed "
        "serial of %(operation)s."
    ),
    "line_attribute_removed": _lt(
        "BOM line %(line)s is mapped to consumed serial %(attribute)s, which the "
        "current version of %(operation)s no longer consumes."
    ),
    "line_attribute_foreign": _lt(
        "BOM line %(line)s is mapped to consumed serial %(attribute)s of another "
        "Pico operation, not of %(operation)s."
    ),
    "line_not_tracked": _lt(
        "BOM line %(line)s is mapped to consumed serial %(attribute)s but its "
        "product is not tracked by lots or serial numbers."
    ),
    "line_uom": _lt(
        "BOM line %(line)s: its unit %(uom)s cannot be converted to %(product_uom)s, "
        "the unit of its product."
    ),
    "line_qty": _lt(
        "BOM line %(line)s is mapped to consumed serial %(attribute)s, so it must "
        "consume exactly 1 %(product_uom)s per unit built; it consumes %(qty)s."
    ),
    "step_unmapped": _lt(
        "BOM operation %(step)s is not mapped to a Pico process while other "
        "operations of this bill of materials are."
    ),
    "step_foreign": _lt(
        "BOM operation %(step)s is mapped to Pico process %(process)s, which is not "
        "part of %(operation)s."
    ),
    "step_archived": _lt(
        "BOM operation %(step)s is mapped to Pico process %(process)s, which is "
        "archived in Pico."
    ),
    "line_step_attribute": _lt(
        "BOM line %(line)s is consumed in operation %(step)s, but its Pico process "
        "%(process)s does not consume serial %(attribute)s."
    ),
}

TRACKING_LABELS = {
    TRACKING_NONE: _lt("nothing"),
    TRACKING_LOT: _lt("lots"),
    TRACKING_SERIAL: _lt("serial numbers"),
}


def render(item, translate=None):
    """Return the message of a Problem or Change, through `translate` if given.

    `translate` (Odoo's `env._`) receives the template and the label parameters
    (tracking kinds, field names), which are templates of this module too.
    """
    if translate is None:
        return item.message
    params = {
        name: translate(value) if value in TRANSLATABLE_PARAMS else value
        for name, value in item.params.items()
    }
    return translate(item.template) % params


def _problem(code, subject="bom", **params):
    return Problem(code, MESSAGES[code], params, subject)


def _number(value):
    """Format a quantity without float noise: 2.0 -> "2", 0.5 -> "0.5"."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _is_whole(value):
    return value > EPSILON and abs(value - round(value)) < EPSILON


def validate(bom):
    """Return every Problem of a BOM's Pico mapping, in a stable order."""
    problems = []
    operation = bom.operation
    if bom.kind == KIT:
        problems.append(_problem("kit"))
    if operation is None:
        problems.append(_problem("no_operation", product=bom.product_name))
        return problems
    if operation.archived:
        problems.append(_problem("operation_archived", operation=operation.title))
    problems.extend(_product_problems(bom))
    problems.extend(_attribute_problems(bom, operation))
    for line in bom.lines:
        problems.extend(_line_problems(line, operation))
    problems.extend(_step_problems(bom, operation))
    return problems


def _product_problems(bom):
    if bom.product_tracking != TRACKING_SERIAL:
        yield _problem(
            "product_not_serial",
            product=bom.product_name,
            tracking=TRACKING_LABELS.get(bom.product_tracking, bom.product_tracking),
        )
    if bom.units is None:
        yield _problem(
            "bom_uom",
            uom=bom.uom_name,
            product_uom=bom.product_uom_name,
            product=bom.product_name,
        )
    elif not _is_whole(bom.units):
        yield _problem(
            "bom_units",
            units=_number(bom.units),
            product_uom=bom.product_uom_name,
            product=bom.product_name,
        )


def _attribute_problems(bom, operation):
    for attribute in operation.attributes:
        if not attribute.active:
            continue
        lines = [
            line
            for line in bom.lines
            if line.attribute_operation_key == operation.key
            and line.attribute_key == attribute.key
        ]
        subject = ("attribute", attribute.key)
        if not lines:
            yield _problem(
                "attribute_unmapped",
                subject,
                attribute=attribute.title,
                operation=operation.title,
            )
        elif len(lines) > 1:
            yield _problem(
                "attribute_mapped_twice",
                subject,
                attribute=attribute.title,
                lines=", ".join(line.name for line in lines),
            )


def _line_problems(line, operation):
    subject = ("line", line.key)
    if line.qty_per_unit is None:
        yield _problem(
            "line_uom",
            subject,
            line=line.name,
            uom=line.uom_name,
            product_uom=line.product_uom_name,
        )
    if line.attribute_key is None:
        if line.tracking in (TRACKING_LOT, TRACKING_SERIAL):
            yield _problem(
                "line_unmapped",
                subject,
                line=line.name,
                tracking=TRACKING_LABELS[line.tracking],
                operation=operation.title,
            )
        return
    attribute_title = line.attribute_title or line.attribute_key
    if line.attribute_operation_key != operation.key:
        yield _problem(
            "line_attribute_foreign",
            subject,
            line=line.name,
            attribute=attribute_title,
            operation=operation.title,
        )
    elif not any(
        attribute.key == line.attribute_key and attribute.active
        for attribute in operation.attributes
    ):
        yield _problem(
            "line_attribute_removed",
            subject,
            line=line.name,
            attribute=attribute_title,
            operation=operation.title,
        )
    if line.tracking not in (TRACKING_LOT, TRACKING_SERIAL):
        yield _problem(
            "line_not_tracked", subject, line=line.name, attribute=attribute_title
        )
    elif (
        line.tracking == TRACKING_SERIAL
        and line.qty_per_unit is not None
        and abs(line.qty_per_unit - 1.0) > EPSILON
    ):
        # One attribute captures one serial per unit built.
        yield _problem(
            "line_qty",
            subject,
            line=line.name,
            attribute=attribute_title,
            product_uom=line.product_uom_name,
            qty=_number(line.qty_per_unit),
        )


def _step_problems(bom, operation):
    if not any(step.process for step in bom.steps):
        return
    steps = {}
    for step in bom.steps:
        steps[step.key] = step
        subject = ("step", step.key)
        process = step.process
        if process is None:
            yield _problem("step_unmapped", subject, step=step.name)
            continue
        if process.key not in operation.descendant_keys:
            yield _problem(
                "step_foreign",
                subject,
                step=step.name,
                process=process.title,
                operation=operation.title,
            )
        if process.archived:
            yield _problem(
                "step_archived", subject, step=step.name, process=process.title
            )
    for line in bom.lines:
        step = steps.get(line.step_key)
        if not (line.attribute_key and step and step.process):
            continue
        consumed = {a.key for a in step.process.attributes if a.active}
        if line.attribute_key not in consumed:
            yield _problem(
                "line_step_attribute",
                ("line", line.key),
                line=line.name,
                step=step.name,
                process=step.process.title,
                attribute=line.attribute_title or line.attribute_key,
            )


# --- Suggestions ---------------------------------------------------------------


def _norm(value):
    return (value or "").strip().casefold()


def _score(operation, code, revision):
    """Return a sortable score of an operation for a product, or None: no match."""
    if operation.archived:
        return None
    if _norm(operation.external_id) == code:
        part_number = 2
    elif code in {_norm(c) for c in operation.external_codes}:
        part_number = 1
    else:
        return None
    same_revision = bool(revision) and _norm(operation.revision) == revision
    return (part_number, same_revision, not operation.is_child)


def rank_operations(code, revision, operations):
    """Return the operations matching a product's internal reference, best first.

    A match on the part number (externalId) beats one on another code of the
    operation (externalCodes); an equal revision breaks ties, then a top-level
    operation (a product) beats a process. Archived operations never match.
    """
    code, revision = _norm(code), _norm(revision)
    if not code:
        return []
    scored = []
    for operation in operations:
        score = _score(operation, code, revision)
        if score is not None:
            scored.append((score, operation))
    scored.sort(key=lambda item: item[0], reverse=True)
    return [operation for _score_, operation in scored]


def suggest_operation(code, revision, operations):
    """Return the single best operation for a product, or None when none or tied."""
    ranked = rank_operations(code, revision, operations)
    if not ranked:
        return None
    code, revision = _norm(code), _norm(revision)
    if len(ranked) > 1 and _score(ranked[0], code, revision) == _score(
        ranked[1], code, revision
    ):
        return None
    return ranked[0]


def suggest_attributes(lines, operation):
    """Return {line key: attribute key} for unmapped lines whose part number matches.

    A line matches an attribute when its product's internal reference equals the
    attribute's part number (externalId). Attributes already mapped, and part
    numbers shared by several lines, are left to the planner.
    """
    taken = {
        line.attribute_key
        for line in lines
        if line.attribute_key and line.attribute_operation_key == operation.key
    }
    unmapped = [line for line in lines if line.attribute_key is None]
    suggestions = {}
    for attribute in operation.attributes:
        if not attribute.active or attribute.key in taken:
            continue
        matches = [
            line
            for line in unmapped
            if _norm(line.default_code)
            and _norm(line.default_code) == _norm(attribute.external_id)
            and line.key not in suggestions
        ]
        if len(matches) == 1:
            suggestions[matches[0].key] = attribute.key
    return suggestions


def suggest_steps(steps, processes):
    """Return {step key: process key} for unmapped BOM operations.

    By equal name first; when no step is mapped yet and the counts agree, the
    remaining steps follow the processes' order (Pico's routing order).
    """
    used = {step.process.key for step in steps if step.process}
    free = [process for process in processes if process.key not in used]
    unmapped = [step for step in steps if step.process is None]
    suggestions = {}
    for step in unmapped:
        named = [p for p in free if _norm(p.name) == _norm(step.name)]
        if len(named) == 1:
            suggestions[step.key] = named[0].key
            free.remove(named[0])
    rest = [step for step in unmapped if step.key not in suggestions]
    if rest and not used and not suggestions and len(rest) == len(free):
        ordered = sorted(rest, key=lambda step: (step.sequence, str(step.key)))
        for step, process in zip(ordered, free, strict=True):
            suggestions[step.key] = process.key
    return suggestions


# --- Version differences -------------------------------------------------------

# Fields of a canonical operation dict (see `canonical_operation`) and their labels.
FIELD_LABELS = {
    "name": _lt("Name"),
    "externalId": _lt("Part number"),
    "externalRevision": _lt("Revision"),
    "externalCodes": _lt("Other codes"),
    "templateID": _lt("Template"),
    "variantName": _lt("Variant"),
}

CHANGE_MESSAGES = {
    "created": _lt("First seen in Pico"),
    "field": _lt("%(field)s: %(old)s → %(new)s"),
    "serial_added": _lt("Consumed serial added: %(attribute)s"),
    "serial_removed": _lt("Consumed serial removed: %(attribute)s"),
    "serial_changed": _lt("Consumed serial %(attribute)s: %(old)s → %(new)s"),
    "archived": _lt("Archived in Pico"),
    "restored": _lt("Restored in Pico (no longer archived)"),
    "missing": _lt("No longer listed by Pico"),
    "relisted": _lt("Listed by Pico again"),
    "redeployed": _lt("Deployed again without changes"),
    "child_added": _lt("Sub-operation added: %(child)s"),
    "child_removed": _lt("Sub-operation removed: %(child)s"),
}


@dataclass(frozen=True)
class Change:
    """One difference between two versions of an operation."""

    code: str
    template: str
    params: dict = field(default_factory=dict, compare=False)

    @property
    def message(self):
        """The English message."""
        return self.template % self.params


TRANSLATABLE_PARAMS = frozenset([*TRACKING_LABELS.values(), *FIELD_LABELS.values()])


def change(code, **params):
    """Return a Change of the given code (see CHANGE_MESSAGES)."""
    return Change(code, CHANGE_MESSAGES[code], params)


def attribute_key(attribute):
    """Key of a consumed-serial dict: Pico's id, else its part number."""
    for name, prefix in (("id", ""), ("externalId", "part:")):
        value = attribute.get(name)
        if value:
            return f"{prefix}{value}"
    return None


def canonical_operation(info):
    """Return a comparable dict of an OperationInfo (core.payloads.parse_operation)."""
    serials = []
    seen = set()
    for serial in info.consumed_serials:
        item = {
            "id": serial.id,
            "externalId": serial.external_id,
        }
        key = attribute_key(item)
        if key is None or key in seen:
            continue
        seen.add(key)
        serials.append(item)
    return {
        "id": info.id,
        "name": info.name,
        "externalId": info.external_id or None,
        "externalRevision": info.external_revision or None,
        "externalCodes": list(info.external_codes),
        "templateID": info.template_id or None,
        "variantName": info.variant_name or None,
        "consumedSerials": serials,
        "archivedAt": info.archived_at.isoformat() if info.archived_at else None,
        "updatedAt": info.updated_at.isoformat(),
    }


def _shown(value):
    if value in (None, "", []):
        return "—"
    if isinstance(value, list):
        return " | ".join(str(v) for v in value)
    return str(value)


def _serial_title(serial):
    return Attribute(attribute_key(serial) or "?", serial.get("externalId")).title


def operation_changes(old, new):
    """Return the Changes from canonical dict `old` (None: first sight) to `new`."""
    if old is None:
        changes = [change("created")]
        if new.get("archivedAt"):
            changes.append(change("archived"))
        return changes
    changes = []
    for name, label in FIELD_LABELS.items():
        if (old.get(name) or None) != (new.get(name) or None):
            changes.append(
                Change(
                    "field",
                    CHANGE_MESSAGES["field"],
                    {
                        "field": label,
                        "old": _shown(old.get(name)),
                        "new": _shown(new.get(name)),
                    },
                )
            )
    old_serials = {attribute_key(s): s for s in old.get("consumedSerials") or []}
    new_serials = {attribute_key(s): s for s in new.get("consumedSerials") or []}
    for key, serial in new_serials.items():
        if key not in old_serials:
            changes.append(change("serial_added", attribute=_serial_title(serial)))
            continue
        before = old_serials[key]
        if (before.get("externalId") or None) != (serial.get("externalId") or None):
            changes.append(
                change(
                    "serial_changed",
                    attribute=_serial_title(serial),
                    old=_shown(before.get("externalId")),
                    new=_shown(serial.get("externalId")),
                )
            )
    for key, serial in old_serials.items():
        if key not in new_serials:
            changes.append(change("serial_removed", attribute=_serial_title(serial)))
    if bool(old.get("archivedAt")) != bool(new.get("archivedAt")):
        changes.append(change("archived" if new.get("archivedAt") else "restored"))
    return changes


# Changes after which the mappings of the operation must be checked again.
MAPPING_CHANGES = frozenset(
    {
        "serial_added",
        "serial_removed",
        "serial_changed",
        "archived",
        "restored",
        "missing",
        "relisted",
    }
)


def affects_mapping(changes):
    """Return whether changes can make a BOM mapped to the operation (in)valid."""
    return any(item.code in MAPPING_CHANGES for item in changes)
