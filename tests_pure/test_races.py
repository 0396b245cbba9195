"""Retried races: the database layer's ERROR line becomes an INFO line only in
the thread working a row, and only for the errors the queue retries."""

import logging
import threading

import pytest

from core import races


class Race(Exception):
    """Stands for a serialization failure."""


class Other(Exception):
    """Stands for any other failed statement."""


@pytest.fixture
def database_logger():
    name = "test_races.sql_db"
    logger = logging.getLogger(name)
    logger.filters.clear()
    races.install(name, (Race,))
    yield logger
    logger.filters.clear()


def _bad_query(logger, error):
    logger.error("bad query: %s\nERROR: %s", b"SELECT 1 FROM stock_quant", error)


def test_a_retried_race_is_info_naming_the_row(database_logger, caplog):
    caplog.set_level(logging.INFO)
    with races.retried_races("Pico MES Event [7]"):
        _bad_query(database_logger, Race("could not serialize access\nDETAIL: x"))
    assert [r.levelname for r in caplog.records] == ["INFO"]
    message = caplog.records[0].getMessage()
    assert message.startswith("Pico MES Event [7]: lost a race")
    assert "(could not serialize access)" in message
    assert message.endswith("SELECT 1 FROM stock_quant")


def test_another_error_in_the_scope_stays_an_error(database_logger, caplog):
    with races.retried_races("Pico MES Event [7]"):
        _bad_query(database_logger, Other("syntax error"))
    assert [r.levelname for r in caplog.records] == ["ERROR"]


def test_outside_the_scope_a_race_stays_an_error(database_logger, caplog):
    with races.retried_races("Pico MES Event [7]"):
        pass
    _bad_query(database_logger, Race("could not serialize access"))
    assert [r.levelname for r in caplog.records] == ["ERROR"]


def test_another_thread_keeps_its_error(database_logger, caplog):
    """A threaded server runs other requests while a row is worked."""
    inside, done = threading.Event(), threading.Event()

    def worker():
        with races.retried_races("Pico MES Event [7]"):
            inside.set()
            done.wait(5)

    thread = threading.Thread(target=worker)
    thread.start()
    inside.wait(5)
    _bad_query(database_logger, Race("could not serialize access"))
    done.set()
    thread.join(5)
    assert [r.levelname for r in caplog.records] == ["ERROR"]


def test_installed_once(database_logger):
    again = races.install(database_logger.name, (Race,))
    assert database_logger.filters == [again]
