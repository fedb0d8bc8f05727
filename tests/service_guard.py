"""Pytest plugin: with SIPAS_REQUIRE_SERVICES=1 (set by .ci/run) a skipped test fails the run.

Tests skip themselves when PostgreSQL, Redis or Chromium is not there, which is right on a
developer's laptop and wrong in CI, where a skip would hide a missing install step.
"""

from __future__ import annotations

import os

import pytest

import survey.compute_threads  # noqa: F401  (one BLAS thread per test worker, as in the server)

_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("SIPAS_REQUIRE_SERVICES") == "1" and _skipped:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                f"SIPAS_REQUIRE_SERVICES=1: {len(_skipped)} test(s) skipped, failing the run: "
                + ", ".join(_skipped[:10]),
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
