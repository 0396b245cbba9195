from . import webhook
from . import metrics
from . import setup_ping
