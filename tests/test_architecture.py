"""The dependency rule: ``forms`` and ``analysis`` are pure; only ``survey`` touches the web/DB."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FORBIDDEN = ("flask", "sqlalchemy", "survey", "werkzeug", "flask_sqlalchemy")


@pytest.mark.parametrize("package", ["forms", "analysis"])
def test_pure_package_imports_no_web_or_database_code(package: str) -> None:
    code = (
        "import importlib, json, pkgutil, sys\n"
        f"pkg = importlib.import_module({package!r})\n"
        "for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = {name.split(".")[0] for name in json.loads(out)}
    assert loaded.isdisjoint(FORBIDDEN), sorted(loaded & set(FORBIDDEN))
    assert package in loaded
