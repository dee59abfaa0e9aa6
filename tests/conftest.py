from __future__ import annotations

from pathlib import Path

import pytest
from ninja.testing import TestClient  # noqa: F401  (re-exported for tests)

pytest_plugins = ["tests.stripe.fixtures"]


def pytest_configure(config):
    # The .mo files are build output: a plain ``pytest`` compiles them too (the app server of
    # the browser tests reads the same files).
    from ticketing.management.commands.compile_translations import compile_all

    compile_all(Path(__file__).resolve().parents[1] / "locale")


@pytest.fixture
def user(db):
    from tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def staff(db):
    from tests.factories import staff_user

    return staff_user()


@pytest.fixture
def api_client():
    """A Django test client for /api/ that speaks JSON and can carry a bearer token."""
    from django.test import Client

    class ApiClient(Client):
        token: str | None = None

        def _auth(self, extra):
            if self.token:
                extra.setdefault("HTTP_AUTHORIZATION", f"Bearer {self.token}")
            return extra

        def get(self, path, data=None, **extra):
            return super().get(path, data, **self._auth(extra))

        def post(self, path, data=None, **extra):
            return super().post(path, data, content_type="application/json", **self._auth(extra))

        def delete(self, path, data=None, **extra):
            return super().delete(path, data, content_type="application/json", **self._auth(extra))

        def put(self, path, data=None, **extra):
            return super().put(path, data, content_type="application/json", **self._auth(extra))

        def patch(self, path, data=None, **extra):
            return super().patch(path, data, content_type="application/json", **self._auth(extra))

        def as_user(self, user):
            from tests.factories import api_token

            self.token = api_token(user)
            return self

    return ApiClient()


def table_counts() -> dict[str, int]:
    """Row counts of every table the app writes: error paths must leave them unchanged."""
    from django.apps import apps

    counts = {}
    for label in ("ticketing", "events", "checkout", "waitlist"):
        for model in apps.get_app_config(label).get_models():
            counts[model._meta.label] = model.objects.count()
    return counts


@pytest.fixture
def unchanged():
    """``with unchanged(): ...`` asserts the block wrote nothing to any app table."""
    from contextlib import contextmanager

    @contextmanager
    def check():
        before = table_counts()
        yield
        assert table_counts() == before

    return check


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: throttle counts, and versions that rolled-back tests reuse."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _language_reset():
    """Each test starts in the default language: a request with ``Accept-Language: de`` leaves
    German active in its thread (LocaleMiddleware activates, nothing deactivates), and a later
    test reading an English message then fails only because of the order the tests ran in."""
    from django.utils import translation

    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _payment_books(settings, tmp_path):
    """Each test gets empty provider books: test databases reuse ids, and keys with them."""
    settings.TICKETING_TEST_PAYMENT_BOOKS = str(tmp_path / "payment-books.sqlite3")


@pytest.fixture(autouse=True)
def _realtime_pushes_inline(settings):
    """Seat-map pushes flush in the caller's thread: no background thread touches the test DB."""
    settings.TICKETING_REALTIME_COALESCE_MS = 0
    settings.TICKETING_WAITING_ROOM_PUSH_MS = 0
    settings.TICKETING_WAITING_ROOM_ADMIT_RETRY_MS = 0


@pytest.fixture(autouse=True)
def _channel_layer_closed():
    """Close the channel layer's connections after each test, so none outlives the test database."""
    yield
    from asgiref.sync import async_to_sync
    from channels.layers import channel_layers

    for layer in list(channel_layers.backends.values()):
        async_to_sync(layer.close)()


@pytest.fixture(autouse=True)
def _version_reader_closed():
    """The deployed app's version reader keeps a connection per event loop: close it after each test."""
    yield
    from ticketing.config.asgi import application

    application.application_mapping["http"].reader.close()


@pytest.fixture(autouse=True)
def _join_batcher_closed():
    """The waiting room's join batcher keeps a connection per event loop: close it after each test."""
    yield
    from waitlist.queue_loop import batcher

    batcher.close()
