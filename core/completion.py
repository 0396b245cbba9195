"""What one Pico completion does in Odoo: the decisions, without Odoo.

The Odoo side turns its records into the dataclasses below, asks `decide` what kind
of completion it received and, for a unit to produce, `plan` what to post: the
produced serial, what each component line consumes (with which lots) and whether
the unit is the last one of its manufacturing order. It then executes the plan.

Messages are English templates wrapped in `_lt`, translated by the Odoo side (as in
`core.mapping`).
"""

from dataclasses import dataclass, field
from datetime import timedelta

from .mapping import EPSILON, TRACKING_LOT, TRACKING_NONE, TRACKING_SERIAL


def _lt(text):
    """Mark a template for translation export; the Odoo side translates it."""
    return text


# Unit states, as pico.work.order stores them.
UNIT_DONE = "done"
UNIT_CANCELLED = "cancelled"

# What a completion is.
HOLD = "hold"  # no unit known yet for its order and index: retry later
CHILD = "child"  # a process of the ordered product (waterfall): record only
ALREADY_DONE = "already_done"  # the unit was completed before: no effect
REFUSED = "refused"  # the unit was cancelled: nothing can be applied
PRODUCE = "produce"  # the ordered unit is built: post it

# Where a component line's quantity comes from.
FROM_SERIALS = "serials"  # the serials or lots Pico reports
FROM_RATIO = "ratio"  # the BOM ratio (backflush), untracked component
FROM_RESERVATION = "reservation"  # the BOM ratio, lots as Odoo reserved them

MESSAGES = {
    "unit_cancelled": _lt(
        "Pico completed unit %(unit)s, which was cancelled; it cannot be produced "
        "any more. Check the order in Pico and in Odoo."
    ),
    "serial_missing": _lt(
        "Pico reported no produced serial for unit %(unit)s and no serial was "
        "reserved for it; %(product)s is tracked by serial number."
    ),
    "serial_mismatch": _lt(
        "Pico reported serial %(reported)s for unit %(unit)s, but Odoo reserved "
        "%(reserved)s for it. Correct the serial in Pico (or the reservation), then "
        "replay this event."
    ),
    "serial_count": _lt(
        "Component %(line)s needs %(expected)s serial number(s) per build, but Pico "
        "reported %(count)s for consumed serial %(attribute)s."
    ),
    "serial_twice": _lt(
        "Pico reported serial %(serial)s twice for component %(line)s."
    ),
    "lot_missing": _lt(
        "Pico reported no lot for component %(line)s (consumed serial %(attribute)s)."
    ),
    "line_not_whole": _lt(
        "Component %(line)s is tracked by serial number but a build consumes "
        "%(qty)s of it; serials are consumed in whole units."
    ),
}


class CompletionError(ValueError):
    """A completion that cannot be applied as it is: the event fails, visibly."""

    def __init__(self, code, **params):
        self.code = code
        self.template = MESSAGES[code]
        self.params = params
        super().__init__(self.message)

    @property
    def message(self):
        """The English message."""
        return self.template % self.params

    def render(self, translate=None):
        """The message through `translate` (Odoo's `env._`) when given."""
        if translate is None:
            return self.message
        return translate(self.template) % self.params


@dataclass(frozen=True)
class Unit:
    """A Pico work order unit as Odoo knows it."""

    key: object
    operation_id: str
    state: str
    order_index: int = 0
    reserved_serial: str | None = None


@dataclass(frozen=True)
class Decision:
    """What a completion is, and the unit it is about (None when held)."""

    kind: str
    unit: Unit | None = None


@dataclass(frozen=True)
class Component:
    """A component line (raw move) of the order, per finished unit."""

    key: object
    name: str
    tracking: str = TRACKING_NONE
    # Quantity consumed per finished unit, in the line's own unit.
    qty_per_unit: float = 0.0
    # The consumed serial the line is mapped to: its key (Pico's attribute id, or
    # "part:<externalId>" when Pico gave none) and its part number.
    attribute_key: str | None = None
    part_number: str | None = None
    attribute_title: str | None = None


@dataclass(frozen=True)
class Consume:
    """What one component line consumes for this completion."""

    key: object
    qty: float
    source: str
    # (lot or serial name, quantity) as Pico reported them; empty unless FROM_SERIALS.
    lots: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Timing:
    """When the build ran, by Pico's clock, and how long it took."""

    start: object = None  # aware UTC datetime or None
    end: object = None
    minutes: float | None = None


@dataclass(frozen=True)
class Plan:
    """Everything the Odoo side posts for one produced unit."""

    unit: Unit
    produced_serial: str | None
    consume: tuple[Consume, ...]
    last_unit: bool
    timing: Timing
    # Serials Pico reported that no component line is mapped to.
    unmatched: tuple = field(default=())


def _unit_label(completion):
    return f"{completion.external_order_id}/{completion.order_index or 0}"


def decide(completion, units):
    """Classify a completion against the units known for its order and index."""
    units = list(units)
    if not units:
        return Decision(HOLD)
    ordered = [unit for unit in units if unit.operation_id == completion.operation_id]
    if not completion.operation_id and len(units) == 1:
        ordered = units
    if completion.wip or not ordered:
        # A process or subassembly Pico spawned for the ordered product.
        live = [unit for unit in units if unit.state != UNIT_CANCELLED]
        return Decision(CHILD, (live or units)[0])
    # Several rows for one operation cannot exist (unique key); prefer a live one.
    unit = min(ordered, key=lambda u: u.state == UNIT_CANCELLED)
    if unit.state == UNIT_DONE:
        return Decision(ALREADY_DONE, unit)
    if unit.state == UNIT_CANCELLED:
        return Decision(REFUSED, unit)
    return Decision(PRODUCE, unit)


def produced_serial(completion, unit, product_tracking, product_name, odoo_serials):
    """The serial of the built unit, checked against the one Odoo reserved."""
    if product_tracking == TRACKING_NONE:
        return None
    reported = (completion.produced_serial or "").strip() or None
    reserved = (unit.reserved_serial or "").strip() or None
    if odoo_serials and reserved:
        if reported and reported != reserved:
            raise CompletionError(
                "serial_mismatch",
                reported=reported,
                reserved=reserved,
                unit=_unit_label(completion),
            )
        return reserved
    if reported:
        return reported
    # Pico echoes the serial reserved at order creation even when it captured none.
    echoed = (completion.reserved_serial or "").strip() or reserved
    if echoed:
        return echoed
    raise CompletionError(
        "serial_missing", unit=_unit_label(completion), product=product_name
    )


def serial_key(serial):
    """The attribute key of a reported consumed serial (as core.mapping keys them)."""
    if serial.id:
        return serial.id
    if serial.external_id:
        return f"part:{serial.external_id}"
    return None


def _norm(value):
    return (value or "").strip().casefold()


def match_serials(components, serials):
    """Return ({component key: [serials]}, unmatched serials).

    A serial goes to the line mapped to its attribute (by Pico's id); failing that,
    to a mapped line whose attribute has the same part number.
    """
    mapped = [c for c in components if c.attribute_key]
    matched = {c.key: [] for c in mapped}
    left = []
    for serial in serials:
        key = serial_key(serial)
        owner = next((c for c in mapped if key and c.attribute_key == key), None)
        if owner is None:
            left.append(serial)
        else:
            matched[owner.key].append(serial)
    unmatched = []
    for serial in left:
        part = _norm(serial.external_id)
        owner = next(
            (c for c in mapped if part and _norm(c.part_number) == part),
            None,
        )
        if owner is None:
            unmatched.append(serial)
        else:
            matched[owner.key].append(serial)
    return matched, tuple(unmatched)


def consumption(components, serials, units=1):
    """Return (Consume per component line, unmatched serials) for `units` builds."""
    matched, unmatched = match_serials(components, serials)
    result = []
    for component in components:
        qty = component.qty_per_unit * units
        tracked = component.tracking in (TRACKING_LOT, TRACKING_SERIAL)
        if not (component.attribute_key and tracked):
            source = FROM_RESERVATION if tracked else FROM_RATIO
            result.append(Consume(component.key, qty, source))
            continue
        title = component.attribute_title or component.attribute_key
        values = [s.value.strip() for s in matched[component.key] if s.value]
        seen = set()
        for value in values:
            if value in seen:
                raise CompletionError("serial_twice", serial=value, line=component.name)
            seen.add(value)
        if component.tracking == TRACKING_SERIAL:
            expected = round(qty)
            if abs(qty - expected) > EPSILON:
                raise CompletionError(
                    "line_not_whole", line=component.name, qty=_number(qty)
                )
            if len(values) != expected:
                raise CompletionError(
                    "serial_count",
                    line=component.name,
                    expected=expected,
                    count=len(values),
                    attribute=title,
                )
            lots = tuple((value, 1.0) for value in values)
        else:
            if not values:
                raise CompletionError(
                    "lot_missing", line=component.name, attribute=title
                )
            # Several lots of one component: shared evenly (Pico reports no split).
            lots = tuple((value, qty / len(values)) for value in values)
        result.append(Consume(component.key, qty, FROM_SERIALS, lots))
    return tuple(result), unmatched


def timing(completion):
    """Start, end and duration of the build, from Pico's own clock only.

    Both ends come from the same clock, so a skewed station clock moves the dates
    but never the duration. Without startedAt the start is end - cycleTime.
    """
    end = completion.end_at or completion.at
    minutes = None
    if completion.cycle_time_ms is not None:
        minutes = completion.cycle_time_ms / 60000.0
    start = completion.started_at
    if start is None and minutes is not None:
        start = end - timedelta(minutes=minutes)
    if minutes is None and start is not None:
        minutes = max((end - start).total_seconds() / 60.0, 0.0)
    if start is not None and start > end:
        start = end
    return Timing(start=start, end=end, minutes=minutes)


def shares(timing, weights):
    """Slice a build's time into consecutive Timings, in proportion to `weights`.

    Used when Pico reports one time for a unit that Odoo routes through several
    work orders: each gets its part of the interval, in routing order.
    """
    total = sum(weights)
    if timing.start is None or not weights or total <= 0:
        return [Timing() for _weight in weights]
    span = timing.end - timing.start
    minutes = timing.minutes
    if minutes is None:
        minutes = span.total_seconds() / 60.0
    result, start, done = [], timing.start, 0.0
    for index, weight in enumerate(weights):
        done += weight
        # The last slice ends exactly at the end, whatever the rounding.
        end = (
            timing.end
            if index == len(weights) - 1
            else timing.start + span * (done / total)
        )
        result.append(Timing(start=start, end=end, minutes=minutes * weight / total))
        start = end
    return result


def is_last_unit(units_left, units=1):
    """Whether building `units` finishes an order with `units_left` units to build."""
    return units_left - units <= EPSILON


def plan(
    completion,
    unit,
    components,
    units_left,
    product_tracking=TRACKING_SERIAL,
    product_name="",
    odoo_serials=False,
):
    """The Plan of one produced unit; raises CompletionError when it cannot be."""
    consume, unmatched = consumption(components, completion.consumed_serials, 1)
    return Plan(
        unit=unit,
        produced_serial=produced_serial(
            completion, unit, product_tracking, product_name, odoo_serials
        ),
        consume=consume,
        last_unit=is_last_unit(units_left, 1),
        timing=timing(completion),
        unmatched=unmatched,
    )


def operator_key(name):
    """Comparable form of an operator name: case and spacing do not matter."""
    return " ".join((name or "").split()).casefold()


def _number(value):
    return f"{value:.6f}".rstrip("0").rstrip(".")
