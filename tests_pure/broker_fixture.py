"""Pytest fixture `mosquitto`: a real Mosquitto broker on a free loopback port."""

import pytest

from simulator import mosquitto as _mosquitto
from simulator.mosquitto import MosquittoBroker, find_mosquitto, free_port  # noqa: F401


def start_broker(workdir, extra_config=(), allow_anonymous=True):
    """Start a broker in workdir; fail (never skip) the test when that is impossible."""
    try:
        return _mosquitto.start_broker(workdir, extra_config, allow_anonymous)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def mosquitto(tmp_path):
    """Yield a running MosquittoBroker (.host, .port, .restart()); stop it after."""
    broker = start_broker(tmp_path / "mosquitto")
    try:
        yield broker
    finally:
        broker.stop()
