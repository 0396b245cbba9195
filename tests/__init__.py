from . import test_backend
from . import test_security
from . import test_webhook
from . import test_push
from . import test_complete
from . import test_catalogue
from . import test_mqtt
from . import test_security_secrets
