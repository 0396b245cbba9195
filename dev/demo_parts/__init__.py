"""The parts of dev/demo, in the order the demo plays them (never imported by the
addon).

- state.py: the demo's orders and builds, and what the parts share (`Demo`);
- setup.py: PostgreSQL, the database, Mosquitto, the simulator, Odoo, webhooks;
- catalogue.py: the routings' standard times, a BOM sent to Pico and mapped;
- floor.py: MOs released, units built in Pico (webhook, then MQTT), the shop
  floor's messages, an operator's note, the health check;
- report.py: the stock checked against the bills of materials, the tables, and
  where everything runs.
"""
