"""Schedules' fixtures: the functions' settings pointed at the session's PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.accounts.conftest import accounts_env
from tests.conftest import Database

__all__ = ["accounts_env"]  # the accounts tests' settings (auth, users, Redis)


@pytest.fixture
def database_env(pg: Database) -> Iterator[None]:
    """DATABASE_URL for functions run in-process (their get_resources), restored after."""
    import shared.resources
    from shared.settings import get_settings

    saved = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = pg.app_url
    get_settings.cache_clear()
    shared.resources._current = None
    yield
    if saved is None:
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = saved
    get_settings.cache_clear()
    shared.resources._current = None
