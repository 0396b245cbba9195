#!/usr/bin/env python3
"""Take the Apps-page screenshots from a running Odoo (after dev/demo) in Chromium.

    python3 dev/screenshots.py [--url http://127.0.0.1:8069] [--db pico_demo]

Needs `pip install playwright` and a Chromium binary (Debian: `apt-get install
chromium`); playwright's own browser download is not used. Writes PNG files to
static/description/.
"""

import argparse
import pathlib
import subprocess
import sys
import tempfile

import requests

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "static" / "description"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


BACKENDS = "/odoo/action-mrp_pico_mes.pico_backend_action"
EVENTS = "/odoo/action-mrp_pico_mes.pico_event_action"
BOMS = "/odoo/action-mrp.mrp_bom_form_action"
MOS = "/odoo/action-mrp.mrp_production_action"
HEALTH = "/odoo/action-mrp_pico_mes.pico_health_action"
INSIGHT = "/odoo/action-mrp_pico_mes.pico_unit_report_action"
LOTS = "/odoo/action-stock.action_production_lot_form"
ASBUILT_REPORT = "mrp_pico_mes.report_asbuilt_lot"
# Tabs of the form to open; KEEP: a report, shown with its default filters.
KEEP = "keep"
# Shots taller than the default window (a long form tab).
TALL = {"screenshot_asbuilt_serial.png": 1500}


def rpc(session, url, model, method, *args, **kwargs):
    """Call a model method through Odoo's JSON-RPC, as the logged-in user."""
    response = session.post(
        f"{url}/web/dataset/call_kw/{model}/{method}",
        json={
            "jsonrpc": "2.0",
            "method": "call",
            "params": {
                "model": model,
                "method": method,
                "args": args,
                "kwargs": kwargs,
            },
        },
        timeout=30,
    )
    payload = response.json()
    if payload.get("error"):
        raise RuntimeError(payload["error"]["data"]["message"])
    return payload["result"]


def login(url, db, user, password):
    session = requests.Session()
    response = session.post(
        f"{url}/web/session/authenticate",
        json={
            "jsonrpc": "2.0",
            "params": {"db": db, "login": user, "password": password},
        },
        timeout=30,
    )
    if response.json().get("error"):
        sys.exit(f"login failed: {response.json()['error']['data']['message']}")
    return session


def targets(session, url):
    """(file name, Odoo URL) of each screenshot, found through the data."""
    backend = rpc(session, url, "pico.backend", "search", [], limit=1)
    productions = rpc(
        session,
        url,
        "mrp.production",
        "search",
        [("pico_work_order_ids", "!=", False)],
        limit=1,
        order="id desc",
    )
    boms = rpc(
        session,
        url,
        "mrp.bom",
        "search",
        [("pico_mapping_state", "=", "attention")],
        limit=1,
    ) or rpc(
        session, url, "mrp.bom", "search", [("pico_operation_id", "!=", False)], limit=1
    )
    # (file, URL, notebook page to open)
    shots = [
        ("screenshot_health.png", HEALTH, KEEP),
        ("screenshot_insight_pivot.png", INSIGHT, KEEP),
        ("screenshot_insight_graph.png", f"{INSIGHT}?view_type=graph", KEEP),
        ("screenshot_backend.png", f"{BACKENDS}/{backend[0]}", None),
        ("screenshot_events.png", EVENTS, None),
    ]
    if boms:
        shots.append(("screenshot_mapping.png", f"{BOMS}/{boms[0]}", "pico"))
    if productions:
        shots.append(("screenshot_production.png", f"{MOS}/{productions[0]}", "pico"))
    lot = asbuilt_lot(session, url)
    if lot:
        shots.append(
            ("screenshot_asbuilt_serial.png", f"{LOTS}/{lot}", "pico_shopfloor")
        )
    return shots


def asbuilt_lot(session, url):
    """A built drone with the fullest record: one with an operator note, if any."""
    notes = rpc(
        session,
        url,
        "pico.unit.note",
        "search_read",
        [("lot_id", "!=", False)],
        fields=["lot_id"],
        limit=1,
    )
    if notes:
        return notes[0]["lot_id"][0]
    units = rpc(
        session,
        url,
        "pico.work.order",
        "search_read",
        [("produced_lot_id", "!=", False)],
        fields=["produced_lot_id"],
        limit=1,
    )
    return units[0]["produced_lot_id"][0] if units else None


def pdf_first_page(session, url, lot, name="screenshot_asbuilt_pdf.png"):
    """Print the lot's As-Built Record as Odoo does and keep its first page."""
    response = session.get(f"{url}/report/pdf/{ASBUILT_REPORT}/{lot}", timeout=300)
    response.raise_for_status()
    if not response.content.startswith(b"%PDF"):
        raise RuntimeError("the As-Built Record did not come back as a PDF")
    with tempfile.TemporaryDirectory() as tmp:
        pdf = pathlib.Path(tmp) / "asbuilt.pdf"
        pdf.write_bytes(response.content)
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "80",
                "-f",
                "1",
                "-l",
                "1",
                "-singlefile",
                str(pdf),
                str(OUT / name.removesuffix(".png")),
            ],
            check=True,
        )
    print(f"wrote static/description/{name}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8069")
    parser.add_argument("--db", default="pico_demo")
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    session = login(args.url, args.db, args.login, args.password)
    shots = targets(session, args.url)
    lot = asbuilt_lot(session, args.url)
    if lot:
        pdf_first_page(session, args.url, lot)
    cookie = session.cookies.get("session_id")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=args.chromium, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.add_cookies([{"name": "session_id", "value": cookie, "url": args.url}])
        page = context.new_page()
        for name, path, tab in shots:
            page.set_viewport_size({"width": 1400, "height": TALL.get(name, 900)})
            # The first page builds the web assets: slow on a busy machine.
            page.goto(f"{args.url}{path}", timeout=180000)
            page.wait_for_selector(".o_view_controller", timeout=30000)
            page.wait_for_timeout(1500)  # the bus keeps a request open: no "idle"
            if tab == KEEP:
                pass
            elif tab:
                page.click(f".o_notebook_headers a[name='{tab}']")
            elif page.locator(".o_facet_remove").count():
                # Lists open on "not done": show everything for the picture.
                page.locator(".o_facet_remove").first.click()
            page.wait_for_timeout(800)
            page.screenshot(path=str(OUT / name))
            print(f"wrote static/description/{name}")
        browser.close()


if __name__ == "__main__":
    main()
