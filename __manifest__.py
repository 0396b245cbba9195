# Copyright 2026 The mrp_pico_mes authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Pico MES Connector",
    "summary": "Send manufacturing orders to the Pico MES and apply builds, "
    "serials, operators and shop-floor events back in Odoo",
    "version": "19.0.1.0.0",
    "category": "Supply Chain/Manufacturing",
    "website": "https://github.com/mrp-pico-mes/mrp_pico_mes",
    "author": "mrp_pico_mes authors",
    "maintainers": [],
    "license": "LGPL-3",
    "development_status": "Alpha",
    "application": False,
    "installable": True,
    "depends": ["mrp"],
    "external_dependencies": {
        "python": ["requests", "paho-mqtt", "jsonschema"],
    },
    "data": [
        "security/pico_security.xml",
        "security/ir.model.access.csv",
        "data/pico_event_cron.xml",
        "views/pico_backend_views.xml",
        "views/pico_event_views.xml",
        "views/menus.xml",
    ],
    "demo": [
        "demo/pico_backend_demo.xml",
    ],
}
