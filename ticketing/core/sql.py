"""Written-out SQL for the checkout hot path, executed one way.

On a hold or a purchase, building an ORM query (resolving lookups, compiling, making model
instances) cost more CPU than PostgreSQL spent running it (docs/performance.md), so the few
statements a checkout request makes are written out and run here:

* through Django's connection, so they share its transaction, its error translation
  (``IntegrityError``, ``OperationalError``...) and its query log: test query budgets count them;
* with server-side parameters and a protocol-level prepared statement per pooled connection,
  so PostgreSQL parses and plans each statement once per connection instead of per request
  (PgBouncer >= 1.21 keeps protocol-level prepares working behind a pooler).

Everything else keeps using the ORM: this is for statements that run on every checkout request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from django.db import connection
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from psycopg._queries import PostgresQuery, _query2pg

Params = Sequence[Any] | Mapping[str, Any] | None


class _CachedQuery(PostgresQuery):
    """psycopg's query conversion (``%(name)s`` -> ``$1``), always through its cache.

    psycopg converts a statement with more than 50 parameters anew on every call (its cache
    is spared the ORM's ever-different bulk inserts). The statements run here are a fixed few
    written-out texts, and the purchase's completion has more than 50: converting it again
    was ~40% of the time spent on that statement. The cache is psycopg's own (an LRU). This
    leans on psycopg's private ``_queries`` module (pinned in requirements.txt); every query
    budget test runs through it.
    """

    __slots__ = ()

    def convert(self, query, vars):
        if vars is None or not isinstance(query, str | bytes):
            return super().convert(query, vars)
        query = self._ensure_bytes(query)
        self.query, self._want_formats, self._order, self._parts = _query2pg(query, self._tx.encoding)
        self.dump(vars)


class _PreparedCursor(psycopg.Cursor):
    """Server-side binding; every statement prepared on first use on its connection."""

    _query_cls = _CachedQuery

    def execute(self, query, params=None, *, prepare=True, binary=None):
        return super().execute(query, params, prepare=prepare, binary=binary)


class _DebugWrapper(CursorDebugWrapper):
    """Logs the statement as written (Django would ask psycopg for the text it sent, which a
    prepared statement does not keep)."""

    def debug_sql(self, sql=None, params=None, use_last_executed_query=False, many=False):
        return super().debug_sql(sql, params, use_last_executed_query=False, many=many)


def _cursor() -> CursorWrapper:
    connection.ensure_connection()
    raw = _PreparedCursor(connection.connection)
    wrapper = _DebugWrapper if connection.queries_logged else CursorWrapper
    return wrapper(raw, connection)


def rows(sql: str, params: Params = None) -> list[tuple]:
    """All rows of ``sql`` (``%s`` or ``%(name)s`` placeholders)."""
    with _cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def row(sql: str, params: Params = None) -> tuple | None:
    """The first row of ``sql``, or ``None``."""
    found = rows(sql, params)
    return found[0] if found else None


def execute(sql: str, params: Params = None) -> int:
    """Run a statement without a result; returns the rows it touched."""
    with _cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
