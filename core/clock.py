"""The one time helper: Odoo stores datetimes naive, in UTC, to the second."""

from datetime import datetime, timezone

from .payloads import parse_time


def utcnow():
    """Now, naive UTC as Odoo stores it, to the microsecond (fields.Datetime.now()
    drops them)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def odoo_datetime(moment):
    """Odoo's datetime (naive UTC, whole seconds) of an aware datetime; False for None.

    Whole seconds because that is what the database keeps: a value compared with a
    stored one (a downtime's start, an operation's updatedAt) must be cut the same.
    """
    if not moment:
        return False
    return moment.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)


def parse_odoo_datetime(value, field):
    """Odoo's datetime of an RFC 3339 string (PayloadError naming `field` if bad)."""
    if not value:
        return False
    return odoo_datetime(parse_time(value, field))
