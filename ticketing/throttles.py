"""Rate limits for the endpoints attackers and bots hammer: sign-up, token, holds.

django-ninja's throttles count in the Django cache, which is per process here: with N
daphne processes a client gets up to N times the rate. That still stops scripted abuse
(what these are for); fairness under a real on-sale comes from the hold rules themselves.
Rates are read from ``settings.TICKETING_THROTTLE_RATES`` when a throttle is built.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja.throttling import AnonRateThrottle, SimpleRateThrottle


class _Scoped:
    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__(settings.TICKETING_THROTTLE_RATES[scope])


class _IpThrottle(_Scoped, AnonRateThrottle):
    """Counts every request of one client address, signed in or not."""

    def get_cache_key(self, request: HttpRequest) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


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
    """For the hold endpoint: per user, and per address so many accounts on one host are bounded too."""
    return [_UserThrottle("hold_user"), _IpThrottle("hold_ip")]
