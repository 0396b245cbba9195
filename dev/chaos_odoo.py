"""The in-process part of dev/chaos.py, run inside `odoo-bin shell`.

Never imported by the addon or its tests: dev/chaos.py feeds this file to
`odoo-bin shell -d <its database>` and calls `setup(env, params)` once, before the
two servers start. It configures the demo backend for the run (simulator,
webhook proxy, broker, short retry delays, catch-up every minute), builds the
product set of the run on the demo drone's Pico mapping, stocks the components,
creates the manufacturing orders (confirmed, hence released, except those the run
completes before Odoo releases them) and returns what the driver needs.
"""
# pylint: disable=invalid-commit

from odoo import Command


def _product(env, code, name, tracking):
    product = env["product.product"].search([("default_code", "=", code)], limit=1)
    if product:
        return product
    return env["product.product"].create(
        {
            "name": name,
            "default_code": code,
            "type": "consu",
            "is_storable": True,
            "tracking": tracking,
        }
    )


def _stock_serials(env, product, prefix, count, location):
    lots = env["stock.lot"].create(
        [
            {"name": f"{prefix}-{number:05d}", "product_id": product.id}
            for number in range(1, count + 1)
        ]
    )
    quants = env["stock.quant"]
    for lot in lots:
        quants._update_available_quantity(product, location, 1, lot_id=lot)
    return lots.mapped("name")


def _configure_backend(env, params):
    backend = env.ref("mrp_pico_mes.pico_backend_demo")
    backend.write(
        {
            "endpoint_url": params["endpoint_url"],
            "api_token": params["api_token"],
            # Pico calls the proxy in front of the two nodes.
            "webhook_base_url": params["proxy_url"],
            "mqtt_enabled": True,
            "mqtt_host": params["mqtt_host"],
            "mqtt_port": params["mqtt_port"],
            "mqtt_topic_prefix": params["mqtt_prefix"],
            "mqtt_run_seconds": 30,
            "release_trigger": "confirm",
            "serial_source": "pico",
            "partial_close": "backorder",
            "connect_timeout": 2.0,
            "read_timeout": 5.0,
            "retry_base_delay": 2,
            "retry_max_delay": 20,
            "max_attempts": 30,
            "executor": params.get("executor", "cron"),
        }
    )
    icp = env["ir.config_parameter"].sudo()
    icp.set_param("web.base.url", params["odoo_url"])
    icp.set_param("web.base.url.freeze", "True")
    # The catch-up is what finds lost webhook deliveries: every minute here.
    reconcile = env.ref("mrp_pico_mes.ir_cron_pico_reconcile")
    reconcile.write({"interval_number": 1, "interval_type": "minutes"})
    return backend


def _bill_of_materials(env, params):
    """The demo drone, mapped to Pico's op-drone, with the run's components."""
    drone = env.ref("mrp_pico_mes.product_pico_drone")
    motor = env.ref("mrp_pico_mes.product_pico_motor")
    controller = env.ref("mrp_pico_mes.product_pico_flight_controller")
    screw = env.ref("mrp_pico_mes.product_pico_screw")
    glue = _product(env, "CHAOS-GLUE", "Chaos run threadlocker", "lot")
    bom = env.ref("mrp_pico_mes.mrp_bom_pico_drone")
    lines = {line.product_id: line for line in bom.bom_line_ids}
    commands = [
        Command.delete(line.id)
        for product, line in lines.items()
        if product not in (motor, controller, screw)
    ]
    commands.append(Command.update(lines[screw].id, {"product_qty": 4}))
    # The simulator's op-drone was given a third consumed serial for it (the lot
    # of threadlocker used): read the new version, map the line to it.
    env["pico.operation"]._pico_sync_backend(bom.pico_backend_id)
    attribute = bom.pico_operation_id.attribute_ids.filtered(
        lambda a: a.external_id == glue.default_code
    )
    if not attribute:
        raise RuntimeError("op-drone has no consumed serial for the threadlocker")
    commands.append(
        Command.create(
            {
                "product_id": glue.id,
                "product_qty": 1,
                "sequence": 5,
                "pico_attribute_id": attribute.id,
            },
        )
    )
    bom.write({"bom_line_ids": commands})
    return drone, motor, controller, screw, glue, bom


def setup(env, params):
    """Configure, stock and create the orders; return the run's facts."""
    backend = _configure_backend(env, params)
    drone, motor, controller, screw, glue, bom = _bill_of_materials(env, params)
    stock = env.ref("stock.warehouse0").lot_stock_id
    units = params["units"]
    spare = params["spare_serials"]
    motors = _stock_serials(env, motor, "CH-MOT", units + spare, stock)
    controllers = _stock_serials(env, controller, "CH-FC", units + spare, stock)
    quants = env["stock.quant"]
    quants._update_available_quantity(screw, stock, 4 * units + 400)
    glue_lots = env["stock.lot"].create(
        [
            {"name": f"CH-GLUE-{number}", "product_id": glue.id}
            for number in range(1, params["glue_lots"] + 1)
        ]
    )
    per_lot = units // len(glue_lots) + 40
    for lot in glue_lots:
        quants._update_available_quantity(glue, stock, per_lot, lot_id=lot)
    env.cr.commit()
    if bom.pico_mapping_state != "valid":
        raise RuntimeError(
            f"the run's BOM is not valid for Pico: {bom.pico_mapping_state}"
        )
    productions = []
    for number, qty in enumerate(params["quantities"]):
        production = env["mrp.production"].create(
            {
                "product_id": drone.id,
                "bom_id": bom.id,
                "product_qty": qty,
                "origin": f"chaos-{number:04d}",
            }
        )
        released = number not in params["unreleased"]
        if released:
            production.action_confirm()
        env.cr.commit()
        productions.append(
            {
                "id": production.id,
                "name": production.name,
                "qty": qty,
                "released": released,
            }
        )
    admin = env.ref("base.user_admin")
    key = (
        env["res.users.apikeys"]
        .with_user(admin)
        .sudo()
        ._generate("rpc", "dev/chaos.py", None)
    )
    env.cr.commit()
    return {
        "backend_id": backend.id,
        "webhook_key": backend.webhook_key,
        "webhook_secret": backend.sudo().webhook_secret,
        "api_key": key,
        "operation": bom.pico_operation_id.pico_id,
        "products": {
            "drone": drone.id,
            "motor": motor.id,
            "controller": controller.id,
            "screw": screw.id,
            "glue": glue.id,
        },
        "codes": {
            "motor": motor.default_code,
            "controller": controller.default_code,
            "glue": glue.default_code,
        },
        "glue_lots": glue_lots.mapped("name"),
        "bom": {line.product_id.id: line.product_qty for line in bom.bom_line_ids},
        "motors": motors,
        "controllers": controllers,
        "productions": productions,
        "stock_location": stock.id,
    }
