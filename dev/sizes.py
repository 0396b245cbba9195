#!/usr/bin/env python3
"""The house's size limits, checked (issue 23): a script that prints, not a test.

    python3 dev/sizes.py

No function longer than 80 lines in models/, core/, controllers/, wizard/ and
dev/; no class longer than 400 lines in dev/ (the models' classes are Odoo's
models, one concern per file, and have no such limit). Prints each one over its
limit, with its file, line and length; exit status 1 when there is one.
Standard library only.
"""
# pylint: disable=print-used

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FUNCTION_LINES = 80
CLASS_LINES = 400
FUNCTION_FOLDERS = ("models", "core", "controllers", "wizard", "dev")
CLASS_FOLDERS = ("dev",)


def python_files(folder):
    """The Python files of a folder, with dev/'s scripts that have no suffix."""
    for path in sorted((REPO / folder).rglob("*")):
        if path.suffix == ".py":
            yield path
        elif path.is_file() and not path.suffix:
            with open(path, "rb") as handle:
                first = handle.readline()
            if first.startswith(b"#!") and b"python" in first:
                yield path


def too_long(path, classes):
    """(kind, name, first line, lines) of what in `path` is over its limit."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            kind, limit = "function", FUNCTION_LINES
        elif isinstance(node, ast.ClassDef) and classes:
            kind, limit = "class", CLASS_LINES
        else:
            continue
        lines = node.end_lineno - node.lineno + 1
        if lines > limit:
            yield kind, node.name, node.lineno, lines


def main():
    found = 0
    for folder in FUNCTION_FOLDERS:
        for path in python_files(folder):
            for kind, name, line, lines in too_long(path, folder in CLASS_FOLDERS):
                found += 1
                print(f"{path.relative_to(REPO)}:{line}: {kind} {name}, {lines} lines")
    print(
        f"{found} over the limits (functions {FUNCTION_LINES} lines in "
        f"{', '.join(FUNCTION_FOLDERS)}; classes {CLASS_LINES} lines in dev/)"
    )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
