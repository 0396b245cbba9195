"""Claiming one queue row among several workers (outbox and inbox alike)."""

# SQLSTATE of a serialization failure: under REPEATABLE READ, locking a row another
# worker changed after our snapshot was taken.
SERIALIZATION_FAILURE = "40001"


def claim_one(cursor, query, params, can_restart, tries=5, execute=None):
    """Run a `... FOR UPDATE SKIP LOCKED` query; return the first row's id or None.

    A row a worker finished after this transaction's snapshot cannot be locked; the
    transaction is then started afresh (when the caller allows it, i.e. commits
    between claims) and the query tried again, at most `tries` times. `execute`
    (query, params) runs the query (default: cursor.execute), e.g. without the
    database layer's error log for a failure the caller handles.
    """
    execute = execute or cursor.execute
    for _try in range(tries):
        try:
            execute(query, params)
        except Exception as exc:
            if getattr(exc, "pgcode", None) != SERIALIZATION_FAILURE or not can_restart:
                raise
            cursor.rollback()
            continue
        row = cursor.fetchone()
        return row[0] if row else None
    return None
