from . import pico_manual_order
from . import change_production_qty
from . import pico_setup_wizard
