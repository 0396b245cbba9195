"""Pytest fixture `pico_sim`: a Pico simulator on a free loopback port, per test."""

import contextlib

import pytest

from simulator import PicoSimulator


@contextlib.contextmanager
def running_simulator(**options):
    """Run a PicoSimulator (port 0 = free port) for the length of a with block."""
    simulator = PicoSimulator(**options)
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def pico_sim():
    """A running simulator with the default fixture and token "sim-token"."""
    with running_simulator() as simulator:
        yield simulator
