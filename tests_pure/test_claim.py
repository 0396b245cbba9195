"""core.claim: one row per claim, restarts on serialization failures only."""

import pytest

from core.claim import SERIALIZATION_FAILURE, claim_one


class DbError(Exception):
    def __init__(self, pgcode):
        super().__init__(pgcode)
        self.pgcode = pgcode


class FakeCursor:
    """Fails the first `failures` executions with `pgcode`, then returns `rows`."""

    def __init__(self, rows, failures=0, pgcode=SERIALIZATION_FAILURE):
        self.rows = rows
        self.failures = failures
        self.pgcode = pgcode
        self.executed = 0
        self.rollbacks = 0

    def execute(self, query, params):
        self.executed += 1
        if self.failures:
            self.failures -= 1
            raise DbError(self.pgcode)

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def rollback(self):
        self.rollbacks += 1


def test_returns_the_claimed_id():
    assert claim_one(FakeCursor([(42,)]), "q", {}, can_restart=True) == 42


def test_nothing_due_is_none():
    assert claim_one(FakeCursor([]), "q", {}, can_restart=True) is None


def test_serialization_failure_restarts_the_transaction():
    cursor = FakeCursor([(7,)], failures=2)
    assert claim_one(cursor, "q", {}, can_restart=True) == 7
    assert (cursor.executed, cursor.rollbacks) == (3, 2)


def test_without_restart_the_failure_propagates():
    cursor = FakeCursor([(7,)], failures=1)
    with pytest.raises(DbError):
        claim_one(cursor, "q", {}, can_restart=False)
    assert cursor.rollbacks == 0


def test_other_errors_propagate():
    cursor = FakeCursor([(7,)], failures=1, pgcode="42601")
    with pytest.raises(DbError):
        claim_one(cursor, "q", {}, can_restart=True)


def test_gives_up_after_the_tries():
    cursor = FakeCursor([(7,)], failures=10)
    assert claim_one(cursor, "q", {}, can_restart=True, tries=3) is None
    assert cursor.executed == 3
