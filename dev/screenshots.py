#!/usr/bin/env python3
"""Take the Apps-page screenshots from a running Odoo (after dev/demo) in Chromium.

    python3 dev/screenshots.py [--url http://127.0.0.1:8069] [--db pico_demo]

Needs `pip install playwright` and a Chromium binary (Debian: `apt-get install
chromium`); playwright's own browser download is not used. Writes PNG files to
static/description/.
"""

import argparse
import pathlib
import sys

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
# Tabs of the form to open; KEEP: a report, shown with its default filters.
KEEP = "keep"


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
    return shots


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
    cookie = session.cookies.get("session_id")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=args.chromium, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.add_cookies([{"name": "session_id", "value": cookie, "url": args.url}])
        page = context.new_page()
        for name, path, tab in shots:
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
