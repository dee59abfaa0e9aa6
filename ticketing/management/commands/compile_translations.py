"""Compile the project's own ``locale/*/LC_MESSAGES/*.po`` into ``.mo`` files.

Pure Python, so the build needs no gettext tools (``compilemessages`` needs ``msgfmt``) and
never walks into the virtualenv's packages. ``bin/test``, ``bin/run`` and the test session
call it; the ``.mo`` files are build output and not committed. Fuzzy and untranslated
entries are left out, as ``msgfmt`` does.
"""

from __future__ import annotations

import ast
import re
import struct
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

FIELD = re.compile(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[(\d+)\])?) (".*")$')


def parse_po(text: str) -> dict[str, str]:
    """``{key: value}`` as a ``.mo`` stores them (plurals joined with NUL, context with EOT)."""
    catalog: dict[str, str] = {}
    for block in re.split(r"\n\s*\n", text):
        fuzzy = False
        fields: dict[str, list[str]] = {}
        current = None
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("#,") and "fuzzy" in line:
                fuzzy = True
            if not line or line.startswith("#"):
                continue
            match = FIELD.match(line)
            if match:
                current = match.group(1)
                fields[current] = [ast.literal_eval(match.group(3))]
            elif current and line.startswith('"'):
                fields[current].append(ast.literal_eval(line))
        if "msgid" not in fields:
            continue
        get = {name: "".join(parts) for name, parts in fields.items()}
        key = get["msgid"]
        if "msgctxt" in get:
            key = f"{get['msgctxt']}\x04{key}"
        if "msgid_plural" in get:
            key = f"{key}\x00{get['msgid_plural']}"
            forms = [get[name] for name in sorted(n for n in get if n.startswith("msgstr["))]
            value = "\x00".join(forms)
            translated = all(forms)
        else:
            value = get.get("msgstr", "")
            translated = bool(value)
        if get["msgid"] == "" or (translated and not fuzzy):
            catalog[key] = value
    return catalog


def mo_bytes(catalog: dict[str, str]) -> bytes:
    """The GNU ``.mo`` format: header, two offset tables, then the strings."""
    keys = sorted(catalog)
    ids = [k.encode() for k in keys]
    strs = [catalog[k].encode() for k in keys]
    header = 7 * 4
    ids_table = header
    strs_table = ids_table + 8 * len(keys)
    data_start = strs_table + 8 * len(keys)
    offsets_ids, offsets_strs, data = [], [], b""
    for raw in ids:
        offsets_ids.append((len(raw), data_start + len(data)))
        data += raw + b"\x00"
    for raw in strs:
        offsets_strs.append((len(raw), data_start + len(data)))
        data += raw + b"\x00"
    out = struct.pack("<7I", 0x950412DE, 0, len(keys), ids_table, strs_table, 0, 0)
    for length, offset in offsets_ids + offsets_strs:
        out += struct.pack("<2I", length, offset)
    return out + data


def compile_all(base: Path) -> list[Path]:
    written = []
    for po in sorted(base.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        content = mo_bytes(parse_po(po.read_text(encoding="utf-8")))
        if not mo.exists() or mo.read_bytes() != content:
            mo.write_bytes(content)
        written.append(mo)
    return written


class Command(BaseCommand):
    help = "Compile locale/*/LC_MESSAGES/*.po into .mo files (no gettext tools needed)."

    def handle(self, *args, **options):
        for base in settings.LOCALE_PATHS:
            for mo in compile_all(Path(base)):
                self.stdout.write(f"compiled {mo}")
