"""Races the queues retry by design, logged as what they are.

Odoo runs every transaction under PostgreSQL's REPEATABLE READ. Two workers that
apply orders consuming the same component stock side by side (the normal case in a
plant: one product family, one stock) meet on the same quant and move rows, and
the second writer of such a row cannot wait and go on: PostgreSQL refuses its
statement ("could not serialize access due to concurrent update", or a deadlock),
and the queue works the row again on fresh data (the job engine retries the job,
the scheduler's run takes the row up again). Nothing is lost and nothing is
applied twice; but Odoo's database layer logs each refused statement as an ERROR
("bad query"), whoever handles it, and an ERROR line is what a plant's monitoring
pages someone for.

While a queue works a row, `retried_races(label)` turns the database layer's ERROR
line for exactly those refusals into one INFO line of this module's logger, naming
the row, the error and the statement, so the log still tells every race lost. It
holds in the current thread (or task) only, and only for the errors the queue
retries; any other failed statement, and every statement of any other thread,
keeps its ERROR line. Odoo does the same around work whose concurrency errors it
retries (its presence update mutes the database layer's logger); a filter scoped
to the thread replaces that process-wide mute here, because a threaded server runs
other requests at the same moment.
"""

import contextlib
import contextvars
import logging

_logger = logging.getLogger(__name__)

# Label of the row the current thread works while its races are retried, or None.
_SCOPE = contextvars.ContextVar("mrp_pico_mes_retried_races", default=None)
# Characters of the refused statement repeated in the INFO line.
STATEMENT_CHARS = 200


class RetriedRaceFilter(logging.Filter):
    """Drop the database layer's "bad query" record of a retried race (logged
    again as INFO); let every other record through."""

    def __init__(self, errors):
        super().__init__()
        self.errors = tuple(errors)

    def filter(self, record):
        label = _SCOPE.get()
        if label is None:
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        if len(args) != 2 or not isinstance(args[1], self.errors):
            return True
        statement, error = args
        if isinstance(statement, bytes):
            statement = statement.decode("utf-8", "replace")
        _logger.info(
            "%s: lost a race with another transaction, retried on fresh data (%s): %s",
            label,
            str(error).splitlines()[0] if str(error) else type(error).__name__,
            " ".join(str(statement).split())[:STATEMENT_CHARS],
        )
        return False


def install(logger_name, errors):
    """Add the filter to `logger_name` once per process; return it."""
    target = logging.getLogger(logger_name)
    for existing in target.filters:
        if isinstance(existing, RetriedRaceFilter):
            return existing
    race_filter = RetriedRaceFilter(errors)
    target.addFilter(race_filter)
    return race_filter


@contextlib.contextmanager
def retried_races(label):
    """Within this block (this thread only), a refused statement of the kinds the
    filter knows is a race the caller retries: logged as INFO about `label`."""
    token = _SCOPE.set(label)
    try:
        yield
    finally:
        _SCOPE.reset(token)
