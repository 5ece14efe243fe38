"""WSGI entry point for running the dashboard with several worker processes, e.g. under gunicorn:

    OPSVIEW_CONFIG=/etc/opsview.toml gunicorn -w 4 -b 127.0.0.1:8050 'opsview.web.wsgi:create()'

Each worker opens the store read-only (set OPSVIEW_STORE or [store].url). `opsview web` is the
single-process alternative (waitress, threads).
"""

from __future__ import annotations

import os
from typing import Any

from opsview.config import load_config
from opsview.logs import setup_logging
from opsview.store import open_store


def create() -> Any:
    """A Flask (WSGI) application; called once per worker, so nothing happens at import."""
    from opsview.web.app import create_app

    setup_logging(os.environ.get("OPSVIEW_LOG_LEVEL", "INFO"))
    config = load_config()
    store = open_store(os.environ.get("OPSVIEW_STORE") or config.store.url, read_only=True)
    return create_app(store, config).server
