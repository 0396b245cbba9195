"""The parts of dev/chaos.py (never imported by the addon).

- state.py: what the parts share (`Chaos`: arguments, counts, incidents, the
  database, the facts of the set-up; a run's state kept for --check-only);
- proxy.py: the webhook proxy, the load balancer in front of the nodes;
- nodes.py: an Odoo node, and JSON-2 calls that fail over between nodes;
- setup.py: the database, Mosquitto, the simulator, the MOs, the two nodes;
- floor.py: the production day: units completed in Pico, delivered as planned,
  planner changes;
- faults.py: SIGKILLs, the broker's restart, terminated connections, GraphQL
  errors and timeouts;
- books.py: the drain, then the checks of the books;
- report.py: the table, the ERROR lines by cause, the JSON results file.
"""
