from . import pico_manual_order
