"""The demo's catalogue: standard times on the routings, and a BOM Pico does not
know sent to Pico (BOM transfer), deployed there and mapped by Odoo itself."""

import time

import harness as h

from .state import ORDERS_BY_LABEL, ROUTINGS, ROVER_STANDARDS, TRANSFERRED, M

TRANSFER_FIELDS = [
    "display_name",
    "pico_transfer_state",
    "pico_transfer_error",
    "pico_transfer_product_id",
    "pico_mapping_state",
    "pico_operation_id",
]


def standards(demo):
    """Give the demo routings standard times (what actual is compared with)."""
    api = demo.api
    with demo.progress.step("Setting the routings' standard times") as note:
        workcenters = {
            row["code"]: row["id"]
            for row in api(
                "mrp.workcenter",
                "search_read",
                domain=[("code", "in", ["ASM-1", "TEST-1"])],
                fields=["code"],
            )
        }
        vals_list = [
            {
                "bom_id": api.xmlid(M, bom),
                "name": name,
                "workcenter_id": workcenters[code],
                "sequence": 10 * (number + 1),
                "time_mode": "manual",
                "time_cycle_manual": minutes,
            }
            for bom, steps in ROUTINGS.items()
            for number, (name, code, minutes) in enumerate(steps)
        ]
        api("mrp.routing.workcenter", "create", vals_list=vals_list)
        for xmlid, minutes in ROVER_STANDARDS.items():
            api(
                "mrp.routing.workcenter",
                "write",
                ids=[api.xmlid(M, xmlid)],
                vals={"time_mode": "manual", "time_cycle_manual": minutes},
            )
        note["text"] = "drone 10 min, widget 4 min, rover 9 min per unit"


def transfer(demo):
    """Send a BOM Pico does not know to Pico, deploy it there, see it mapped."""
    step = demo.progress.step
    bom_id = demo.api.xmlid(M, ORDERS_BY_LABEL[TRANSFERRED][2])

    def read():
        return demo.api("mrp.bom", "read", ids=[bom_id], fields=TRANSFER_FIELDS)[0]

    with step("Sending a BOM to Pico (Work Instructions API, alpha)") as note:
        row, note["text"] = send(demo, bom_id, read)
    with step("Deploying it in Pico (simulator control API)") as note:
        deployed = demo.sim.deploy(row["pico_transfer_product_id"])
        note["text"] = (
            f"{len(deployed['operations'])} operations, "
            f"{len(deployed['subOperations'])} links; version webhook sent"
        )
    with step("Waiting for Odoo to map the BOM by itself") as note:
        started = time.monotonic()

        def mapped():
            row = read()
            return row if row["pico_mapping_state"] == "valid" else None

        row = h.wait_until(mapped, 60, 0.05, "the BOM's mapping")
        note["text"] = (
            f"mapped to {row['pico_operation_id'][1]}, valid, "
            f"{(time.monotonic() - started) * 1000:.0f} ms after the deploy"
        )


def send(demo, bom_id, read):
    """Send to Pico (the BOM's button), wait until done; (the BOM, what Pico got)."""
    demo.set_backend(work_instructions_enabled=True)
    started = time.monotonic()
    demo.api("mrp.bom", "action_pico_transfer", ids=[bom_id])

    def sent():
        row = read()
        if row["pico_transfer_state"] in ("failed", "dead"):
            raise h.HarnessError(f"transfer failed: {row['pico_transfer_error']}")
        return row if row["pico_transfer_state"] == "done" else None

    row = h.wait_until(sent, 60, 0.05, "the BOM transfer")
    state = demo.sim.control("workinstructions")
    product = state["products"][row["pico_transfer_product_id"]]
    steps = sum(len(state["processes"][pid]["steps"]) for pid in product["processIds"])
    return row, (
        f"{row['display_name']} -> product {product['id']}, "
        f"{len(product['processIds'])} processes ({steps} steps), "
        f"{len(state['stations'])} stations, "
        f"{len(product['consumedSerials'])} consumed serials, "
        f"{(time.monotonic() - started) * 1000:.0f} ms"
    )
