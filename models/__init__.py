from . import pico_backend
from . import pico_event
