"""Fed to `odoo shell -d pico_demo` by the init service of dev/docker-compose.yml.

Points the demo backend at the simulator and broker containers (names on the
compose network), turns MQTT on, and registers the webhooks in the simulator,
retrying while the simulator container is still installing its packages.
"""
# ruff: noqa: F821 - `env` is the one `odoo shell` provides
# pylint: disable=print-used,invalid-commit

import os
import time

backend = env.ref("mrp_pico_mes.pico_backend_demo")
backend.write(
    {
        "endpoint_url": os.environ.get(
            "PICO_ENDPOINT", "http://simulator:8077/graph/v2"
        ),
        "api_token": os.environ.get("PICO_TOKEN", "sim-token"),
        # The URL the simulator reaches Odoo at, on the compose network.
        "webhook_base_url": os.environ.get("PICO_WEBHOOK_BASE", "http://odoo:8069"),
        "mqtt_enabled": True,
        "mqtt_host": os.environ.get("PICO_MQTT_HOST", "mosquitto"),
        "mqtt_port": int(os.environ.get("PICO_MQTT_PORT", "1883")),
        "mqtt_topic_prefix": os.environ.get("PICO_MQTT_PREFIX", "pico/sim"),
    }
)
env.cr.commit()
params = {}
for _attempt in range(60):
    params = backend.action_register_webhooks()["params"]
    if params["type"] == "success":
        break
    time.sleep(2)
env.cr.commit()
print(f"Pico backend: {params.get('title')}: {params.get('message')}")
