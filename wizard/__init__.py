from . import pico_manual_order
from . import change_production_qty
