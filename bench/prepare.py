"""Create the bench's users with API tokens and browser sessions, fast; print them as JSON.

Run by ``onsale.py`` with the bench's environment (same database and SECRET_KEY as the
servers). Signing 400 users up through the API would spend minutes in PBKDF2 on two cores, so
users share one password hash computed once; the token and session rows are exactly the ones
``POST /api/auth/token`` and the login page create. The staff account is created when the
database has none (``seed_demo`` makes it otherwise).

Usage: prepare.py --users 200 --sessions 40 --prefix bench
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.config.settings")

import django

django.setup()

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.db import transaction  # noqa: E402
from stack import ADMIN_EMAIL, ADMIN_PASSWORD  # noqa: E402

from ticketing.models import ApiToken, User  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--sessions", type=int, default=0, help="the first N users also get a session")
    parser.add_argument("--prefix", default="bench")
    args = parser.parse_args()

    if not User.objects.filter(email=ADMIN_EMAIL).exists():
        User.objects.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD)

    password = make_password(f"{args.prefix}-password-123")
    with transaction.atomic():
        users = User.objects.bulk_create(
            [
                User(email=f"{args.prefix}{i}@bench.example", name=f"Bench Buyer {i}", password=password)
                for i in range(args.users)
            ]
        )
        keys = [ApiToken.new_key() for _ in users]
        ApiToken.objects.bulk_create(
            [
                ApiToken(user=u, key_hash=ApiToken.hash_key(k), name="bench")
                for u, k in zip(users, keys, strict=False)
            ]
        )
    out = []
    for i, (user, key) in enumerate(zip(users, keys, strict=False)):
        session = None
        if i < args.sessions:
            store = SessionStore()
            store[SESSION_KEY] = str(user.pk)
            store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            store[HASH_SESSION_KEY] = user.get_session_auth_hash()
            store.create()
            session = store.session_key
        out.append({"id": user.pk, "email": user.email, "token": key, "session": session})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
