"""Pico MES simulator for tests and demos; never imported by the addon."""

from .server import PicoSimulator

__all__ = ["PicoSimulator"]
