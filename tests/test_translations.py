"""Every string marked on the buyer's pages, in their scripts, the confirmation e-mail and the
API's error messages has a German translation.

The strings are extracted here the way ``makemessages`` finds them (templates through
Django's ``templatize``, scripts by their ``gettext``/``ngettext``/``gettext_noop`` calls,
Python by its ``gettext`` family calls), then looked up in the compiled catalogs
(``locale/de/LC_MESSAGES/*.mo``, built from the ``.po`` files by ``compile_translations``).
A string marked but not translated, or translated only as fuzzy, fails with its text.
"""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.utils.translation.template import templatize

from ticketing.management.commands.compile_translations import compile_all

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "locale"

BUYER_TEMPLATES = [
    "base.html",
    "events/browse.html",
    "events/detail.html",
    "events/_status.html",
    "events/error.html",
    "checkout/_seat_picker.html",
    "checkout/_steps.html",
    "checkout/seats.html",
    "checkout/hold.html",
    "checkout/order.html",
    "checkout/orders.html",
    "checkout/_order.html",
    "checkout/email/confirmation.txt",
    "checkout/email/transfer.txt",
    "checkout/ticket.html",
    "checkout/_ticket_face.html",
    "waitlist/_join.html",
    "waitlist/_offer_banner.html",
    "waitlist/mine.html",
    "waitlist/queue.html",
    "registration/login.html",
    "registration/signup.html",
]
BUYER_PYTHON = [
    "ticketing/core/errors.py",
    "checkout/errors.py",
    "events/errors.py",
    "waitlist/errors.py",
    "checkout/selectors/alternatives.py",
    "checkout/services/holds.py",
    "checkout/services/best_available.py",
    "checkout/services/pricing/rules.py",
    "checkout/services/orders.py",
    "checkout/services/checkin.py",
    "checkout/documents/__init__.py",
    "checkout/documents/mail.py",
    "checkout/services/intents.py",
    "checkout/services/sales.py",
    "events/services/venues.py",
    "waitlist/services.py",
    "ticketing/accounts/auth.py",
    "ticketing/accounts/services.py",
    "checkout/models.py",
    "checkout/tasks.py",
    "events/models.py",
    "events/views.py",
]
SCRIPTS = sorted((ROOT / "static" / "js").glob("*.js"))

PY_STRING = r"u?'(?:[^'\\]|\\.)*'"
TEMPLATE_CALL = re.compile(rf"\b(gettext|ngettext|pgettext|npgettext)\(({PY_STRING}(?:\s*,\s*{PY_STRING})*)")
JS_STRING = r'"(?:[^"\\]|\\.)*"'
JS_CALL = re.compile(rf"\b(gettext|ngettext|gettext_noop)\(\s*({JS_STRING})(?:\s*,\s*({JS_STRING}))?")
PY_FUNCS = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "gettext_noop"}


def template_msgids(path: Path) -> set[str]:
    found = set()
    for match in TEMPLATE_CALL.finditer(templatize(path.read_text(encoding="utf-8"), origin=str(path))):
        strings = [ast.literal_eval(s) for s in re.findall(PY_STRING, match.group(2))]
        if match.group(1).startswith("p") or match.group(1).startswith("np"):
            strings = strings[1:]  # the context is not a msgid
        found.add(strings[0])
    return found


def script_msgids(path: Path) -> set[str]:
    return {ast.literal_eval(m.group(2)) for m in JS_CALL.finditer(path.read_text(encoding="utf-8"))}


def python_msgids(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in PY_FUNCS:
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
    return found


@pytest.fixture(scope="module")
def catalogs() -> dict[str, dict]:
    compile_all(LOCALE)
    result = {}
    for domain in ("django", "djangojs"):
        with (LOCALE / "de" / "LC_MESSAGES" / f"{domain}.mo").open("rb") as f:
            catalog = gettext.GNUTranslations(f)._catalog
        # Plurals are stored per form: (msgid, 0), (msgid, 1).
        result[domain] = {(k[0] if isinstance(k, tuple) else k): v for k, v in catalog.items() if v}
    return result


def test_the_extractors_find_strings():
    assert "Seat map" in template_msgids(ROOT / "templates" / "checkout" / "_seat_picker.html")
    assert "Hold %(count)s seat" in script_msgids(ROOT / "static" / "js" / "seat-picker.js")
    assert "No such hold." in python_msgids(ROOT / "checkout" / "errors.py")


def test_buyer_templates_are_translated_to_german(catalogs):
    missing = {
        name: sorted(m for m in template_msgids(ROOT / "templates" / name) if m not in catalogs["django"])
        for name in BUYER_TEMPLATES
    }
    assert not {k: v for k, v in missing.items() if v}


def test_scripts_are_translated_to_german(catalogs):
    missing = {p.name: sorted(m for m in script_msgids(p) if m not in catalogs["djangojs"]) for p in SCRIPTS}
    assert not {k: v for k, v in missing.items() if v}


def test_api_errors_and_mail_are_translated_to_german(catalogs):
    missing = {
        name: sorted(m for m in python_msgids(ROOT / name) if m not in catalogs["django"])
        for name in BUYER_PYTHON
    }
    assert not {k: v for k, v in missing.items() if v}


def test_api_error_messages_follow_the_buyers_language(client, db):
    english = client.get("/api/holds/999999", HTTP_ACCEPT_LANGUAGE="en")
    german = client.get("/api/holds/999999", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")
    assert german.json()["message"] == "Melden Sie sich zuerst an."
    assert set(german.json()) == {"code", "message", "extra"}
    assert english.json()["code"] == german.json()["code"]
    assert english.json()["message"] != german.json()["message"]
