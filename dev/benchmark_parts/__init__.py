"""The parts of dev/benchmark.py, one module a phase (never imported by the addon).

- state.py: what the phases share (`Bench`: arguments, results, database, servers)
  and the targets;
- setup.py: Odoo, PostgreSQL, a fresh database, Mosquitto and the simulators, the
  install and the demo backend;
- inprocess.py: the measures in `odoo-bin shell` (dev/bench_odoo.py);
- latency.py: the server, confirm -> order in Pico, completion -> MO done by
  webhook and MQTT, confirm -> all orders by MO size;
- drain.py: stored completions drained with 1, 2, 4 workers and two servers;
- accept.py: webhook accept against Odoo's floor (a trivial route);
- report.py: the table, the JSON file and the profiles.
"""
