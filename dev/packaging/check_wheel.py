"""Check a wheel built from this repository (dev/run-tests calls it).

    python dev/packaging/check_wheel.py dist/odoo_addon_mrp_pico_mes-*.whl

The wheel must hold the addon under odoo/addons/mrp_pico_mes, nothing that
dev/packaging/whool_staged.py leaves out, and declare as Requires-Dist exactly the
manifest's external_dependencies (the one place they are written).
"""
# pylint: disable=print-used

import ast
import sys
import zipfile
from email.parser import HeaderParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from whool_staged import ADDON, EXCLUDED

ROOT = Path(__file__).resolve().parents[2]
PREFIX = f"odoo/addons/{ADDON}/"


def check(wheel):
    problems = []
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [meta_name] = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = HeaderParser().parsestr(archive.read(meta_name).decode())
    files = [n for n in names if not n.startswith(meta_name.split("/")[0])]
    for name in files:
        inner = name[len(PREFIX) :] if name.startswith(PREFIX) else None
        if inner is None:
            problems.append(f"outside {PREFIX}: {name}")
        elif inner.startswith(EXCLUDED) or "__pycache__" in inner:
            problems.append(f"not for the wheel: {name}")
    if PREFIX + "__manifest__.py" not in files:
        problems.append(f"no {PREFIX}__manifest__.py")
    if meta["Name"] != f"odoo-addon-{ADDON}":
        problems.append(f"distribution name {meta['Name']!r}")
    manifest = ast.literal_eval((ROOT / "__manifest__.py").read_text())
    declared = sorted(manifest["external_dependencies"]["python"])
    required = sorted(meta.get_all("Requires-Dist") or [])
    if declared != required:
        problems.append(f"Requires-Dist {required} != manifest {declared}")
    return problems, meta, len(files), required


def main(argv):
    failed = False
    for wheel in argv:
        problems, meta, count, required = check(wheel)
        print(
            f"{Path(wheel).name}: {meta['Name']} {meta['Version']}, {count} files, "
            f"Requires-Dist {', '.join(required)}"
        )
        for problem in problems:
            print(f"  WHEEL PROBLEM: {problem}")
        failed = failed or bool(problems)
    return 1 if failed or not argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
