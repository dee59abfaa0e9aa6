"""The one place that says what input text, numbers and dates may be.

PostgreSQL refuses some values a JSON body or a form can carry: a NUL character (text and
jsonb), a lone surrogate (not encodable as UTF-8), text longer than its column, an integer
beyond ``bigint``, a timestamp outside what the venue time zones can shift without leaving
``datetime``'s range. Refused at the input layer, they answer 422 before any service runs,
so nothing is written and no money moves.

- API: every input schema derives from ``InputSchema``; its one validator checks every
  string, number and date of every field (nested lists and dicts too), so a field added
  later is covered without anyone remembering to. Lengths come from the model column
  (``column_length``). A field documented to take line breaks says so with ``Multiline``.
- Query, path and header parameters use ``SafeStr`` (same rules).
- Forms (admin and pages): ``SafeFormMixin`` runs the same checks on every cleaned value
  and shows them as form errors.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from decimal import Decimal
from typing import Annotated, Any

from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email as django_validate_email
from django.db import models
from ninja import Schema
from pydantic import AfterValidator, ValidationInfo, field_validator

# PostgreSQL's bigint. Larger integers would fail on the insert or the comparison.
BIGINT_MAX = 2**63 - 1
# Dates a ticketing system has any business with; the bounds keep every time zone shift
# (and PostgreSQL's timestamp) in range. Year 1 used to be accepted and failed on publish.
DATE_MIN = dt.date(1900, 1, 1)
DATE_MAX = dt.date(9000, 12, 31)
# Tab, line feed and carriage return are only for fields marked ``Multiline``.
LINE_BREAKS = frozenset("\t\n\r")


class Multiline:
    """Marker: ``Annotated[str, Multiline()]`` takes tab, line feed and carriage return."""


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` cannot be stored as text, or ``None`` when it can.

    Refused: NUL and every other C0/C1 control character (line breaks only where
    ``multiline``), and lone surrogates (valid in JSON, not encodable as UTF-8)."""
    for ch in value:
        if multiline and ch in LINE_BREAKS:
            continue
        category = unicodedata.category(ch)
        if category == "Cc":
            return f"contains a control character (U+{ord(ch):04X})"
        if category == "Cs":
            return f"contains a lone surrogate (U+{ord(ch):04X})"
    return None


def value_problem(value: Any, *, multiline: bool = False) -> str | None:
    """``text_problem`` for any input value: strings, numbers, dates, lists and dict keys/values."""
    if isinstance(value, str):
        return text_problem(value, multiline=multiline)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if -BIGINT_MAX <= value <= BIGINT_MAX else "is out of range"
    if isinstance(value, float | Decimal):
        return None if value == value and abs(value) < 1e15 else "is out of range"
    if isinstance(value, dt.datetime | dt.date):
        day = value.date() if isinstance(value, dt.datetime) else value
        if not DATE_MIN <= day <= DATE_MAX:
            return f"must be between {DATE_MIN.isoformat()} and {DATE_MAX.isoformat()}"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            problem = value_problem(key, multiline=False) or value_problem(item, multiline=multiline)
            if problem:
                return problem
        return None
    if isinstance(value, list | tuple | set | frozenset):
        for item in value:
            problem = value_problem(item, multiline=multiline)
            if problem:
                return problem
    return None


def _check(value: Any) -> Any:
    problem = value_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _email(value: str) -> str:
    try:
        django_validate_email(value)
    except DjangoValidationError as exc:
        raise ValueError("is not a valid e-mail address") from exc
    return value


# For parameters outside a schema (path, query, header): the same rules as every schema field.
SafeStr = Annotated[str, AfterValidator(_check)]
# An e-mail address as Django's validator sees it (the model's EmailField uses the same one).
Email = Annotated[str, AfterValidator(_email)]


def column_length(model: type[models.Model], field: str) -> int:
    """The ``max_length`` of ``model.field``: the one source of every input's length limit."""
    length = model._meta.get_field(field).max_length
    if length is None:
        raise ValueError(f"{model.__name__}.{field} has no max_length")
    return length


class InputSchema(Schema):
    """Base of every API input schema: every field's value passes ``value_problem``."""

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        multiline = bool(field and any(isinstance(m, Multiline) for m in field.metadata))
        problem = value_problem(value, multiline=multiline)
        if problem:
            raise ValueError(problem)
        return value


class SafeFormMixin:
    """For every writable form (admin and pages): each cleaned value passes ``value_problem``.

    Text fields rendered as a ``Textarea`` take line breaks; everything else is one line."""

    def _post_clean(self) -> None:
        for name, value in list(getattr(self, "cleaned_data", {}).items()):
            field = self.fields.get(name)
            multiline = bool(field and isinstance(field.widget, forms.Textarea))
            problem = value_problem(value, multiline=multiline)
            if problem:
                self.add_error(name, f"This value {problem}.")
        super()._post_clean()


class SafeModelForm(SafeFormMixin, forms.ModelForm):
    """The form every writable ModelAdmin and inline uses (``form = SafeModelForm``)."""
