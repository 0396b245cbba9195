"""Fixtures of the pure suite: a running Pico simulator, a real Mosquitto broker."""

from broker_fixture import mosquitto  # noqa: F401
from sim_fixture import pico_sim  # noqa: F401
