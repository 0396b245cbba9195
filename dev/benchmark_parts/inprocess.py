"""The benchmark's measures in process: dev/bench_odoo.py in `odoo-bin shell`."""

import harness as h

SCRIPT = h.DEV / "bench_odoo.py"
# The completion paths measured in process (dev/bench_odoo.py `inprocess`).
PATHS = {"processor": "scheduler's run", "job": "job engine's job"}


def _shell(bench, function, params, log_name):
    """Run a function of dev/bench_odoo.py in `odoo-bin shell`; its result."""
    script = SCRIPT.read_text()
    return bench.run.shell(h.shell_call(script, params, function), log_name=log_name)


def in_process(bench):
    """Confirms and completions, their cost by MO size, then the catalogue syncs
    (only those with --catalogue-only)."""
    args = bench.args
    if args.catalogue_only:
        catalogue_curve(bench)
        return
    with bench.progress.step(
        f"In process: {args.runs} confirms and completions of each kind"
    ) as note:
        params = {
            "warmup": 3,
            "runs": args.runs,
            "profiled": 5,
            # Two MOs of each kind per run and path (the job engine's too).
            "serial_lots": 4 * (args.runs + 8) + 10,
        }
        result = _shell(bench, "inprocess", params, "bench-inprocess")
        bench.results["inprocess"] = result
        processing = result["processing"]
        note["text"] = "processing / Odoo's own = " + ", ".join(
            f"{processing[kind]['median'] / processing['odoo']['median']:.2f} "
            f"({PATHS[kind]})"
            for kind in PATHS
            if kind in processing
        )
    with bench.progress.step(
        f"In process: confirm and completion cost by MO size {args.sizes}"
    ) as note:
        params = {
            "sizes": args.sizes,
            "runs": {str(size): curve_runs(size) for size in args.sizes},
        }
        result = _shell(bench, "curves", params, "bench-curves")
        bench.results["curves"] = result
        small, big = str(args.sizes[0]), str(args.sizes[-1])
        ratio = (
            result[big]["complete_next"]["median"]
            / result[small]["complete_first"]["median"]
        )
        note["text"] = f"completion {big} / {small} units = {ratio:.2f}"
    catalogue_curve(bench)


def curve_runs(size):
    """Measured MOs of each size in the curves (a 500-unit MO takes seconds)."""
    return 10 if size <= 10 else 6 if size <= 100 else 2


def catalogue_curve(bench):
    args = bench.args
    bench.results["catalogue_curve"] = {}
    for size, sim in sorted(bench.catalogue_sims.items()):
        with bench.progress.step(
            f"In process: catalogue sync of {size} operations (own process)"
        ) as note:
            params = {
                "endpoint_url": sim.graphql_url,
                "api_token": "sim-token",
                # tracemalloc doubles the time: only on the reference size.
                "trace": size == args.catalogue,
                "tag": str(size),
            }
            result = _shell(bench, "catalogue", params, f"bench-catalogue-{size}")
            bench.results["catalogue_curve"][str(size)] = result
            if size == args.catalogue:
                bench.results["catalogue"] = result
            note["text"] = (
                f"{result['sync_ms'] / 1000:.1f} s, peak RSS "
                f"+{result['rss_peak_growth_mib']:.0f} MiB"
            )


def insight(bench):
    units = bench.args.insight_units
    if not units:
        return
    with bench.progress.step(
        f"In process: Actual vs Standard pivot on {units:,} generated units"
    ) as note:
        result = _shell(bench, "insight", {"units": units, "runs": 5}, "bench-insight")
        bench.results["insight"] = result
        default = result["pivot"]["product x week (default pivot)"]
        note["text"] = f"median {default['median']:.0f} ms"
