"""The one place rows are locked.

Every lock is taken in primary-key order, so two buyers whose requests overlap
acquire the shared rows in the same order and cannot deadlock. Lock waits are
bounded by ``SET LOCAL lock_timeout``; a timeout becomes the retryable ``Busy``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Model, QuerySet

from ticketing.core import sql
from ticketing.core.errors import Busy
from ticketing.ops import metrics

M = TypeVar("M", bound=Model)


def _require_transaction() -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("Row locks are only meaningful inside transaction.atomic().")


# ``set_lock_timeout`` as a select-list item, for a transaction's first statement to carry
# (one round trip fewer on the checkout path); its one parameter is ``lock_timeout_value()``.
LOCK_TIMEOUT_SQL = "set_config('lock_timeout', %s, true)"


def lock_timeout_value(ms: int | None = None) -> str:
    return f"{int(settings.TICKETING_LOCK_TIMEOUT_MS if ms is None else ms)}ms"


def set_lock_timeout(ms: int | None = None) -> None:
    """Bound lock waits for the rest of the current transaction."""
    _require_transaction()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {LOCK_TIMEOUT_SQL}", [lock_timeout_value(ms)])


def is_lock_timeout(exc: BaseException) -> bool:
    cause = getattr(exc, "__cause__", None)
    sqlstate = getattr(cause, "sqlstate", None) or getattr(exc, "sqlstate", None)
    # 55P03 lock_not_available (lock_timeout / NOWAIT); 40P01 deadlock_detected.
    return sqlstate in {"55P03", "40P01"}


@contextmanager
def busy_on_lock_timeout() -> Iterator[None]:
    """Turn a lock timeout (or a deadlock PostgreSQL broke up) inside the block into ``Busy``
    (HTTP 503 with Retry-After). Put it outside ``transaction.atomic()`` to cover the whole
    transaction, commit included."""
    try:
        yield
    except DatabaseError as exc:
        if is_lock_timeout(exc):
            metrics.lock_timed_out()
            raise Busy() from exc
        raise


def lock_rows(qs: QuerySet[M], *, skip_locked: bool = False, limit: int | None = None) -> list[M]:
    """Lock the rows of ``qs`` in primary-key order and return them.

    Precondition: inside ``transaction.atomic()`` (raises ``RuntimeError`` otherwise).
    With ``skip_locked`` rows another transaction holds are left out instead of waited for
    (rows this transaction already locked are returned). ``limit`` locks at most that many
    rows, the lowest primary keys first: batches for sweepers.
    """
    _require_transaction()
    locked = qs.order_by("pk").select_for_update(of=("self",), skip_locked=skip_locked)
    if limit is not None:
        locked = locked[:limit]
    with busy_on_lock_timeout():
        return list(locked)


def lock_rows_sql(
    *, table: str, columns: str, where: str, params: sql.Params, joins: str = "", skip_locked: bool = False
) -> list[tuple]:
    """``lock_rows`` written out, for the checkout hot path (``ticketing.core.sql``).

    Locks the rows of ``table`` matching ``where`` in primary-key order and returns
    ``columns`` of them; ``joins`` may add columns of other tables (only ``table`` is locked).
    Qualify columns with the table's name. Same preconditions and errors as ``lock_rows``.
    """
    _require_transaction()
    skip = " SKIP LOCKED" if skip_locked else ""
    statement = (
        f"SELECT {columns} FROM {table} {joins} WHERE {where} ORDER BY {table}.id FOR UPDATE OF {table}{skip}"
    )
    with busy_on_lock_timeout():
        return sql.rows(statement, params)


def lock_one(qs: QuerySet[M]) -> M | None:
    """Lock and return the single row of ``qs`` (or ``None``). Same preconditions as ``lock_rows``."""
    rows = lock_rows(qs)
    return rows[0] if rows else None
