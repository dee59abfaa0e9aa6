"""Fault tests run real processes (daphne, the task cluster, a PostgreSQL of their own) and kill
or stop them. Slow (about four minutes) and opt-in: ``TICKETING_FAULT_TESTS=1`` (see README)."""

import os

import pytest


def pytest_collection_modifyitems(config, items):
    if os.environ.get("TICKETING_FAULT_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="fault tests are opt-in: TICKETING_FAULT_TESTS=1 (see README)")
    for item in items:
        if "tests/faults/" in str(item.fspath):
            item.add_marker(skip)
