"""PEP 517 build backend: OCA's whool, handed a staged copy of the addon.

pyproject.toml names this module (`backend-path = ["dev/packaging"]`); every hook
ends in whool's own. Why a stage: whool packages every file git tracks, and names
the distribution after the folder it runs in. This repository is the addon at its
root, cloned under any folder name (CI's clone, a worktree), with the developers'
tools beside the run-time code. So each hook first copies the files Odoo needs
into a folder named `mrp_pico_mes`, with the metadata whool computes for this
checkout (version from the manifest and git history, Requires-Dist from the
manifest's external_dependencies) written to PKG-INFO, the way whool's own sdist
carries it, then lets whool build from there.

Not shipped (EXCLUDED): dev/ (test command, demo, benchmark, this backend),
tests_pure/ (the Odoo-free suite, run from a checkout), readme/ (the fragments
README.rst is generated from), docs/ (the developer guide and project notes,
linked from README.rst), the CI and lint settings. Shipped: the addon, its
Odoo tests (tests/) and the Pico simulator they run against (simulator/; never
imported at run time, it needs graphql-core only when the tests run).
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
from email.generator import Generator
from pathlib import Path

# whool and manifestoo_core are imported by the hooks, so that
# dev/packaging/check_wheel.py can read the constants below without them.

ADDON = "mrp_pico_mes"
EXCLUDED = (
    "dev/",
    "tests_pure/",
    "readme/",
    "docs/",
    ".ci/",
    ".gitignore",
    ".pre-commit-config.yaml",
    ".pylintrc",
    ".ruff.toml",
)
# Never shipped when there is no git to list the tracked files (an sdist).
LEFTOVERS = {"__pycache__", ".git", "build", "dist", ".run", "bench-results"}
# What whool reads in the stage ([tool.whool]; it leaves pyproject.toml out of the
# wheel), and what an sdist also needs to build its wheel with this backend.
BUILD_FILES = ("pyproject.toml",)
SDIST_FILES = ("dev/packaging/whool_staged.py",)


def shipped_files(root):
    """Relative paths of the files that go into the wheel, sorted.

    The files git tracks, as whool does; in an sdist (PKG-INFO, no git of its
    own) or outside git, every file but the leftovers.
    """
    candidates = []
    if not (Path(root) / "PKG-INFO").exists():
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            listed = subprocess.run(
                ["git", "ls-files", "-z"],
                cwd=root,
                capture_output=True,
                check=True,
            ).stdout.decode()
            candidates = [name for name in listed.split("\0") if name]
    if not candidates:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in LEFTOVERS and ".egg-info" not in d]
            rel = Path(folder).relative_to(root)
            candidates += [(rel / name).as_posix() for name in files]
    return sorted(
        name
        for name in candidates
        if not name.startswith(EXCLUDED)
        and name not in ("pyproject.toml", "PKG-INFO")
        and Path(name).parts[0] not in LEFTOVERS
        and not name.endswith((".pyc", ".pyo"))
        and (Path(root) / name).is_file()
    )


def _metadata(root):
    """whool's metadata of this checkout, named after the addon, not the folder."""
    from manifestoo_core.metadata import metadata_from_addon_dir
    from whool.utils import load_pyproject_toml

    options = load_pyproject_toml(root).get("tool", {}).get("whool", {})
    meta = metadata_from_addon_dir(
        root, options, precomputed_metadata_file=root / "PKG-INFO"
    )
    folder = root.absolute().name
    name = meta["Name"]
    if folder != ADDON and name.endswith(f"-{folder}"):
        meta.replace_header("Name", name[: -len(folder)] + ADDON)
    return meta


@contextlib.contextmanager
def _staged(with_build_files=False):
    """A temporary folder `mrp_pico_mes` (the shipped files + PKG-INFO), as cwd."""
    root = Path.cwd()
    meta = _metadata(root)
    extra = BUILD_FILES + (SDIST_FILES if with_build_files else ())
    names = shipped_files(root) + [n for n in extra if (root / n).is_file()]
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / ADDON
        for name in names:
            target = stage / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, target)
        with open(stage / "PKG-INFO", "w", encoding="utf-8") as handle:
            Generator(handle, mangle_from_=False, maxheaderlen=0).flatten(meta)
        os.chdir(stage)
        try:
            yield stage
        finally:
            os.chdir(root)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    from whool import buildapi as whool

    wheel_directory = os.path.abspath(wheel_directory)
    with _staged():
        return whool.build_wheel(wheel_directory, config_settings)


def build_sdist(sdist_directory, config_settings=None):
    from whool import buildapi as whool

    sdist_directory = os.path.abspath(sdist_directory)
    with _staged(with_build_files=True):
        return whool.build_sdist(sdist_directory, config_settings)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """pip install -e: whool links odoo/addons/mrp_pico_mes to this checkout.

    whool takes the addon name from PKG-INFO when there is one: write it for the
    duration of the build (it is gitignored).
    """
    from whool import buildapi as whool

    root = Path.cwd()
    pkg_info = root / "PKG-INFO"
    existed = pkg_info.exists()
    if not existed:
        meta = _metadata(root)
        with open(pkg_info, "w", encoding="utf-8") as handle:
            Generator(handle, mangle_from_=False, maxheaderlen=0).flatten(meta)
    try:
        return whool.build_editable(
            os.path.abspath(wheel_directory), config_settings, metadata_directory
        )
    finally:
        if not existed:
            pkg_info.unlink()
