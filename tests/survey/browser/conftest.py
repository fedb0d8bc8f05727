"""Real headless Chromium against the real app served by werkzeug in a background thread.

``browser`` is the session's one Debian Chromium (``tests/conftest.py``). Every test here is
marked ``browser`` and skipped, with the reason, when Chromium is absent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            if not CHROMIUM.exists():
                item.add_marker(pytest.mark.skip(reason=f"browser tests need {CHROMIUM}"))


@dataclass
class LiveServer:
    """An app served on 127.0.0.1 at ``url``."""

    app: Flask
    url: str


@contextmanager
def served(app: Flask) -> Iterator[LiveServer]:
    """Serve ``app`` on a free port of 127.0.0.1 in a background thread until the block ends."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(app, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def serve(make_app: Callable[..., Flask]) -> Iterator[Callable[..., LiveServer]]:
    """Start the app (with CSRF on, as in production) on a free port: ``serve(**config)``."""
    with ExitStack() as servers:

        def start(**config: Any) -> LiveServer:
            return servers.enter_context(served(make_app(WTF_CSRF_ENABLED=True, **config)))

        yield start


@pytest.fixture(params=[True, False], ids=["js", "nojs"])
def javascript(request: pytest.FixtureRequest) -> bool:
    """Run a test with JavaScript on and off."""
    return bool(request.param)


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Open pages in fresh 360×740 phone contexts: ``new_page(javascript=False)``."""
    contexts = []

    def factory(*, javascript: bool = True) -> Any:
        context = browser.new_context(
            viewport={"width": 360, "height": 740},
            java_script_enabled=javascript,
            is_mobile=True,
            has_touch=True,
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield factory
    for context in contexts:
        context.close()


@pytest.fixture
def phone(new_page: Callable[..., Any], javascript: bool) -> Any:
    """A phone page with JavaScript on, then off (the test runs twice)."""
    return new_page(javascript=javascript)
