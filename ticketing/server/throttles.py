"""Rate limits for the endpoints attackers and bots hammer: sign-up, token, holds.

django-ninja's throttles count in the Django cache, which is per process here: with N
daphne processes a client gets up to N times the rate. That still stops scripted abuse
(what these are for); fairness under a real on-sale comes from the hold rules themselves.
Rates are read from ``settings.TICKETING_THROTTLE_RATES`` when a throttle is built.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest
from ninja.throttling import AnonRateThrottle, SimpleRateThrottle

# Set in an ASGI scope whose request the event loop counted and let through, before handing
# it on to Django: its throttles then do not count it a second time.
COUNTED_SCOPE_KEY = "ticketing.throttles_counted"


class _Scoped:
    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__(settings.TICKETING_THROTTLE_RATES[scope])

    def allow_request(self, request: HttpRequest) -> bool:
        scope = getattr(request, "scope", None)
        if scope is not None and scope.get(COUNTED_SCOPE_KEY):
            return True  # counted (and allowed) on the event loop already: see ``allow_on_loop``
        # Throttles are built once, at import; the rate is looked up per request so a changed
        # setting (an override in tests, a reload) applies without rebuilding the routes.
        self.rate = settings.TICKETING_THROTTLE_RATES[self.scope]
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request)


class _IpThrottle(_Scoped, AnonRateThrottle):
    """Counts every request of one client address, signed in or not.

    With ``skip_loopback`` a loopback peer is not counted: it is a reverse proxy on this
    host (or a local tool), and counting it would throttle every buyer behind it together.
    """

    def __init__(self, scope: str, *, skip_loopback: bool = False) -> None:
        self.skip_loopback = skip_loopback
        super().__init__(scope)

    def get_cache_key(self, request: HttpRequest) -> str | None:
        ident = self.get_ident(request)
        if self.skip_loopback and _is_loopback(ident):
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}


def _is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address((address or "").strip()).is_loopback
    except ValueError:
        return False


class _UserThrottle(_Scoped, SimpleRateThrottle):
    """Counts the requests of one signed-in user, whichever token or session they use."""

    def get_cache_key(self, request: HttpRequest) -> str | None:
        user = getattr(request, "auth", None)
        if user is None or not getattr(user, "pk", None):
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.pk}


def signup_throttles() -> list:
    return [_IpThrottle("signup")]


def token_throttles() -> list:
    return [_IpThrottle("token")]


def hold_throttles() -> list:
    """For the hold endpoint: per user, and per address so many accounts on one host are bounded too.

    The per-user rate is what stops one scripted buyer; the per-address rate is far higher,
    because a campus, an office or a carrier-grade NAT puts hundreds of real buyers behind one
    address at an on-sale. Loopback is not counted per address (see ``_IpThrottle``).
    """
    return [_UserThrottle("hold_user"), _IpThrottle("hold_ip", skip_loopback=True)]


def queue_join_throttles() -> list:
    """For joining a waiting room: per account, and per address (as for holds, loopback is a
    proxy and not counted). The per-account rate is low: one person joins once."""
    return [_UserThrottle("queue_user"), _IpThrottle("queue_ip", skip_loopback=True)]


class _LoopRequest:
    """What the throttles read of a request (its address headers and its user), from an ASGI scope."""

    def __init__(self, scope: dict, user_id: int) -> None:
        self.META = {"REMOTE_ADDR": (scope.get("client") or ("", 0))[0]}
        for name, value in scope.get("headers", ()):
            if name == b"x-forwarded-for":
                self.META["HTTP_X_FORWARDED_FOR"] = value.decode("latin-1")
        self.auth = _User(user_id)


class _User:
    def __init__(self, pk: int) -> None:
        self.pk = pk


def allow_on_loop(throttles: list, *, scope: dict, user_id: int) -> bool:
    """The endpoint's throttles for a request answered on the event loop (counted as Django
    would count it). When they allow it, the scope is marked so that Django, if the request is
    handed on to it after all, does not count it again; when they refuse, Django answers the 429."""
    request = _LoopRequest(scope, user_id)
    if not all(throttle.allow_request(request) for throttle in throttles):
        return False
    scope[COUNTED_SCOPE_KEY] = True
    return True
