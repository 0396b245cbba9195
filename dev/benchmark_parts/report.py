"""The benchmark's report: a table on stdout (each figure against its target),
the profiles when a target is missed, and the JSON results file."""
# pylint: disable=print-used

import json
import os

from .inprocess import PATHS
from .state import TARGETS, now


class Report:
    """The rows of the table, made from the results of one run."""

    def __init__(self, bench):
        self.bench = bench
        self.args = bench.args
        self.results = bench.results
        self.rows = []
        self.ratio = self.slow = None

    def report(self):
        r = self.results
        rows = self.rows
        if self.args.catalogue_only:
            self.report_catalogue(r["catalogue"])
            self.report_catalogue_curve(r.get("catalogue_curve") or {})
        elif not self.args.insight_only:
            if r.get("accept"):
                self.report_accept(r["accept"])
            self.report_inprocess(r["inprocess"])
            self.report_latencies(r)
            self.report_catalogue(r["catalogue"])
            self.report_catalogue_curve(r.get("catalogue_curve") or {})
            self.report_curves(r.get("curves") or {}, r.get("orders_curve") or {})
            self.report_drain(r.get("drain") or {})
        if r.get("insight"):
            self.report_insight(r["insight"])
        for phase, error in (r.get("errors") or {}).items():
            self.row(f"{phase} did not finish", error[:200])
        r["rows"] = [list(x) for x in rows]
        r["finished_at"] = now()
        r["machine"]["load_average_at_end"] = list(os.getloadavg())
        self.print_report()
        out = self.args.out
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(r, indent=2, default=str))
        print(f"\nWritten: {out}")

    def row(self, metric, value, target="", ok=None):
        verdict = "" if ok is None else ("PASS" if ok else "MISS")
        self.rows.append((metric, value, target, verdict))
        return ok

    def report_accept(self, accept):
        floor = self.results.get("floor", {})
        lat_limit = TARGETS["accept_latency_ratio"]
        thr_limit = TARGETS["accept_throughput_ratio"]
        for clients in ("1", "10", "50", "50 paced"):
            for key, data in (("door", accept[clients]), ("floor", floor.get(clients))):
                if not data:
                    continue
                lat = data["latency_ms"]
                bad = sum(v for k, v in data["statuses"].items() if k != "202")
                value = (
                    f"p50 {lat['p50']:.1f} / p95 {lat['p95']:.1f} / p99 "
                    f"{lat['p99']:.1f} ms, {data['throughput_per_s']:.0f} req/s"
                )
                srv = data.get("server") or {}
                if srv.get("n"):
                    value += (
                        f"; server {srv['queries_p50']:.0f} queries, SQL "
                        f"{srv['sql_ms_p50']:.1f} + other {srv['python_ms_p50']:.1f} ms"
                    )
                if bad:
                    value += f", {bad} not 202"
                who = (
                    "Webhook accept"
                    if key == "door"
                    else "  Odoo's floor (trivial route)"
                )
                if data.get("rate_per_client"):
                    label = (
                        f"{who}, {data['clients']} clients at "
                        f"{data['rate_per_client']:g} req/s each, "
                        f"{data['requests']} req"
                    )
                else:
                    label = f"{who}, {clients} client(s), {data['requests']} req"
                self.row(label, value)
            base = floor.get(clients)
            if not base:
                continue
            door = accept[clients]
            p50 = door["latency_ms"]["p50"] / base["latency_ms"]["p50"]
            p99 = door["latency_ms"]["p99"] / base["latency_ms"]["p99"]
            thr = door["throughput_per_s"] / base["throughput_per_s"]
            paced = "paced" in clients
            ok = max(p50, p99) <= lat_limit and (paced or thr >= thr_limit)
            self.row(
                "  door / floor",
                f"p50 {p50:.2f}x, p99 {p99:.2f}x"
                + ("" if paced else f", throughput {thr:.2f}x"),
                f"<= {lat_limit}x" + ("" if paced else f", >= {thr_limit}x"),
                ok,
            )

    def report_inprocess(self, ip):
        proc, queries = ip["processing"], ip["processing_queries"]
        kinds = [kind for kind in PATHS if kind in proc]
        for kind, label in (
            *(
                (kind, f"Completion processing ({PATHS[kind]}), 1-unit MO")
                for kind in kinds
            ),
            ("odoo", "Odoo's own set_qty_producing + button_mark_done"),
        ):
            self.row(
                label,
                f"median {proc[kind]['median']:.0f} ms, p95 {proc[kind]['p95']:.0f} "
                f"ms, {queries[kind]['median']:.0f} queries",
            )
        limit = TARGETS["processing_ratio"]
        self.ratio = 0.0
        for kind in kinds:
            ratio = proc[kind]["median"] / proc["odoo"]["median"]
            self.ratio = max(self.ratio, ratio)
            self.row(
                f"  processing ({PATHS[kind]}) / Odoo's own (medians)",
                f"{ratio:.2f}x",
                f"<= {limit}x",
                ratio <= limit,
            )
        conf, cq = ip["confirm"], ip["confirm_queries"]
        self.slow = conf["mapped"]["median"] / conf["unmapped"]["median"] - 1
        limit = TARGETS["confirm_slowdown"]
        self.row(
            "Confirm: mapped BOM (released) vs unmapped copy",
            f"median {conf['mapped']['median']:.1f} vs "
            f"{conf['unmapped']['median']:.1f} ms ({cq['mapped']['median']:.0f} vs "
            f"{cq['unmapped']['median']:.0f} queries): {self.slow:+.0%}",
            f"<= +{limit:.0%}",
            self.slow <= limit,
        )
        both = ip["create_and_confirm"]
        extra = both["mapped"]["median"] / both["unmapped"]["median"] - 1
        self.row(
            "  create + confirm, for context",
            f"median {both['mapped']['median']:.1f} vs "
            f"{both['unmapped']['median']:.1f} ms: {extra:+.0%}",
        )

    def report_latencies(self, r):
        c2p = r["confirm_to_pico_ms"]
        self.row(
            "Confirm commit -> order in Pico (sender cron)",
            f"p50 {c2p['p50']:.0f} / p95 {c2p['p95']:.0f} / max {c2p['max']:.0f} ms",
        )
        for door, label, key in (
            ("webhook", "webhook", "webhook_done_p95_ms"),
            ("mqtt", "MQTT publish", "mqtt_done_p95_ms"),
        ):
            res = r[f"{door}_completion"]
            stored, done = res["to_event_stored_ms"], res["to_mo_done_ms"]
            self.row(
                f"Completion ({label}) -> event stored",
                f"p50 {stored['p50']:.0f} / p95 {stored['p95']:.0f} ms",
            )
            self.row(
                f"Completion ({label}) -> MO done",
                f"p50 {done['p50']:.0f} / p95 {done['p95']:.0f} / max "
                f"{done['max']:.0f} ms",
                f"p95 <= {TARGETS[key] / 1000:g} s",
                done["p95"] <= TARGETS[key],
            )
            # The in-process time of the path the server took (the job engine's
            # job when it ran the completions).
            proc = r["inprocess"]["processing"]
            processing = proc.get("job", proc["processor"])["median"]
            ratio = done["p95"] / processing
            limit = TARGETS["waiting_ratio"]
            self.row(
                "  that p95 / median processing time (in process, same run)",
                f"{done['p95']:.0f} / {processing:.0f} ms = {ratio:.2f}x",
                f"<= {limit}x",
                ratio <= limit,
            )

    def report_catalogue_curve(self, curve):
        if len(curve) < 2:
            return
        sizes = sorted(curve, key=int)
        small, big = curve[sizes[0]], curve[sizes[-1]]
        factor = int(sizes[-1]) / int(sizes[0])
        for size in sizes:
            cat = curve[size]
            self.row(
                f"Catalogue sync, {cat['listed']} operations (own process)",
                f"{cat['sync_ms'] / 1000:.1f} s, {cat['sync_queries']} queries; peak "
                f"RSS +{cat['rss_peak_growth_mib']:.0f} MiB (process "
                f"{cat['rss_peak_mib']:.0f} MiB); again "
                f"{cat['resync_ms'] / 1000:.1f} s",
            )
        time_ratio = big["sync_ms"] / small["sync_ms"]
        mem_ratio = big["rss_peak_mib"] / small["rss_peak_mib"]
        self.row(
            f"  {sizes[-1]} / {sizes[0]} operations ({factor:g}x the work)",
            f"time {time_ratio:.1f}x, process peak RSS {mem_ratio:.2f}x",
            f"time <= {factor:g}x (linear)",
            time_ratio <= factor * 1.1,
        )

    def report_curves(self, curves, orders):
        if not curves:
            return
        sizes = sorted(curves, key=int)
        one = curves[sizes[0]]
        for size in sizes:
            c = curves[size]
            mapped, unmapped = (
                c["confirm_mapped"]["median"],
                c["confirm_unmapped"]["median"],
            )
            extra = mapped / unmapped - 1
            value = (
                f"{mapped:.0f} vs {unmapped:.0f} ms unmapped ({extra:+.0%}), "
                f"{c['confirm_mapped_q']['median']:.0f} vs "
                f"{c['confirm_unmapped_q']['median']:.0f} queries"
            )
            if int(size) > 1:
                per_unit = (mapped - one["confirm_mapped"]["median"]) / (int(size) - 1)
                per_odoo = (unmapped - one["confirm_unmapped"]["median"]) / (
                    int(size) - 1
                )
                value += f"; per extra unit {per_unit:.2f} ms (Odoo's {per_odoo:.2f})"
            limit = TARGETS["confirm_slowdown"]
            self.row(
                f"Confirm of a {size}-unit MO (median of {c['confirm_mapped']['n']})",
                value,
                f"<= +{limit:.0%}",
                extra <= limit,
            )
            part = c.get("confirm_outbox")
            if part:
                self.row(
                    "  of which the outbox's store and hand-off",
                    f"{part['median']:.1f} ms = {part['median'] / unmapped:.0%} of "
                    f"the unmapped confirm, "
                    f"{c['confirm_outbox_q']['median']:.0f} queries",
                )
            o = orders.get(size)
            if o:
                self.row(
                    f"  confirm -> all {size} orders in Pico (server, sender cron)",
                    f"{o['to_all_in_pico_ms']:.0f} ms "
                    f"({o['per_order_ms']:.1f} ms/order)",
                )
        base = one["complete_first"]["median"]
        odoo_base = one["odoo_first"]["median"]
        limit = TARGETS["completion_size_ratio"]
        for size in sizes:
            c = curves[size]
            key = (
                "complete_next"
                if int(size) > 1 and c["complete_next"]["n"]
                else "complete_first"
            )
            ms = c[key]["median"]
            ratio = ms / base
            odoo_ratio = c["odoo_first"]["median"] / odoo_base
            value = (
                f"{ms:.0f} ms, {c[key + '_q']['median']:.0f} queries: {ratio:.2f}x the "
                f"1-unit MO's; Odoo's own produce-one-and-backorder "
                f"{c['odoo_first']['median']:.0f} ms ({odoo_ratio:.2f}x)"
            )
            if int(size) > 1:
                value += f"; first unit {c['complete_first']['median']:.0f} ms"
            big = size == sizes[-1] and int(size) > 1
            self.row(
                f"Completion of a unit of a {size}-unit MO",
                value,
                f"<= {limit}x" if big else "",
                ratio <= limit if big else None,
            )

    def report_drain(self, drain):
        for label, d in drain.items():
            self.row(
                f"Drain {d['completions']} stored completions, {label}",
                f"{d['per_s']:.1f} completions/s ({d['wall_s']:.1f} s), "
                f"{d['events_done']} events done, {d['doubles']:g} doubles",
                "0 doubles",
                d["doubles"] == 0 and d["events_done"] == d["completions"],
            )

    def report_catalogue(self, cat):
        self.row(
            f"Catalogue sync: {cat['listed']} operations, {cat['links']} links",
            f"{cat['sync_ms'] / 1000:.1f} s (of which fetch "
            f"{cat['fetch_ms'] / 1000:.1f} s), {cat['sync_queries']} queries",
        )
        self.row(
            "  memory of that sync",
            f"peak RSS +{cat['rss_peak_growth_mib']:.0f} MiB (process peak "
            f"{cat['rss_peak_mib']:.0f} MiB); tracemalloc peak "
            f"{cat['tracemalloc_peak_mib']:.0f} MiB",
        )
        self.row(
            "  sync again, nothing changed",
            f"{cat['resync_ms'] / 1000:.1f} s, {cat['resync_queries']} queries",
        )

    def report_insight(self, ins):
        limit = TARGETS["insight_pivot_ms"]
        self.row(
            f"Pico report table rebuilt from {ins['units']:,} units",
            f"{ins['rebuild_s']:.1f} s, {ins['report_rows']:,} rows "
            f"(generating the units: {ins['generate_s']:.0f} s)",
        )
        for name, res in ins["pivot"].items():
            label = f"Pico report pivot, {name}"
            value = (
                f"median {res['median']:.0f} ms, max {res['max']:.0f} ms "
                f"({res['groups']} groups, {ins['units']:,} units)"
            )
            if name.startswith("product x week"):
                self.row(label, value, f"< {limit} ms", res["median"] < limit)
            else:
                self.row(label, value)

    def print_report(self):
        m = self.results["machine"]
        load = " ".join(f"{x:.2f}" for x in m["load_average_at_start"])
        print(
            f"\nMachine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM; "
            f"Python {m['python']}; PostgreSQL {m['postgresql']}; Odoo {m['odoo']}"
        )
        print(
            f"Server: --workers={m['workers']} --max-cron-threads="
            f"{m['max_cron_threads']}; load average at start {load}, at end "
            + " ".join(f"{x:.2f}" for x in m["load_average_at_end"])
        )
        heads = ("Metric", "Measured", "Target", "")
        widths = [
            max(len(str(row[i])) for row in [heads, *self.rows]) for i in range(4)
        ]
        print()
        for row in [heads, tuple("-" * w for w in widths), *self.rows]:
            cells = zip(row, widths, strict=True)
            print("  ".join(str(c).ljust(w) for c, w in cells).rstrip())
        if self.args.insight_only or self.args.catalogue_only:
            return
        ip = self.results["inprocess"]
        show = self.args.profile
        if show or self.ratio > TARGETS["processing_ratio"]:
            kinds = [kind for kind in (*PATHS, "odoo") if kind in ip["profiles"]]
            self.print_profiles("Completion", ip["profiles"], kinds)
        if show or self.slow > TARGETS["confirm_slowdown"]:
            self.print_profiles("Confirm", ip["confirm_profiles"], ("mapped",))

    def print_profiles(self, title, profiles, kinds):
        for kind in kinds:
            prof = profiles[kind]
            print(
                f"\n{title}, {kind}: cProfile of {prof['runs']} runs, own time by part"
            )
            for name, part in prof["own_time_by_category"].items():
                print(f"  {name:<36} {part['seconds']:8.3f} s {part['share']:7.1%}")
            for key, text in (
                ("addon_cumulative_ms_per_run", "this addon's functions"),
                ("odoo_called_by_addon_ms_per_run", "Odoo's functions it calls"),
            ):
                if prof.get(key):
                    print(f"  {text}, cumulative ms per run (under cProfile):")
                    for ms, calls, name in prof[key][:10]:
                        print(f"    {ms:8.2f} ms  {calls:4d} calls  {name}")
            if self.args.profile:
                print(prof["top_cumulative"])
