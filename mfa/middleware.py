"""PartialLoginMiddleware: browser (cookie session) logins get the same second factor as the API.

After a correct password for a user with MFA on (through any login view, the Django admin's
included), the login is undone at once and the session only remembers, under ``"mfa.pending"``,
who is half-way through. ``request.user`` stays anonymous; every page but the challenge, logout,
static files and views marked ``@mfa_exempt`` redirects to the challenge, API paths answer 401
JSON. The state expires after MFA["MFA_TOKEN_LIFETIME"] (5 minutes). A correct code completes the
login through ``django.contrib.auth.login``, which rotates the session key.

Completed browser logins are AuthSession rows like API logins (``"mfa.sid"`` in the cookie session),
so ending a session in the API, the admin or the sessions page also ends the browser session.

It also applies mandatory MFA (MFA["REQUIRED"]) to pages: past the grace period a user without MFA
reaches only enrolment and logout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, logout
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from mfa import flows, policy, sessions
from mfa.conf import mfa_settings
from mfa.events import Client
from mfa.http import client_of
from mfa.permissions import user_has_mfa

PENDING_KEY = "mfa.pending"
SID_KEY = "mfa.sid"
REMINDED_KEY = "mfa.reminded"
API_PREFIX = "/api/"


def mfa_exempt(view: Callable) -> Callable:
    """Mark a view as reachable during a half-authenticated login (like the challenge)."""
    view.mfa_exempt = True  # type: ignore[attr-defined]
    return view


def mfa_enrolment_view(view: Callable) -> Callable:
    """Mark a view as reachable by a user who must enrol before anything else."""
    view.mfa_enrolment = True  # type: ignore[attr-defined]
    return view


def _page_url(name: str, next_url: str | None = None) -> str:
    url = reverse(f"mfa_pages:{name}")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def _json(detail: str, code: str, status: int) -> JsonResponse:
    response = JsonResponse({"detail": detail, "code": code}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def pending_login(request: HttpRequest) -> dict[str, Any] | None:
    """The half-authenticated state of this browser session, or None (also when expired)."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    if time.time() - float(pending.get("at", 0)) > mfa_settings.MFA_TOKEN_LIFETIME.total_seconds():
        request.session.pop(PENDING_KEY, None)
        return None
    return pending


def begin_partial_login(request: HttpRequest, user: Any) -> None:
    """Undo a password-only login of a user with MFA on, keeping only the pending state."""
    backend = request.session.get(BACKEND_SESSION_KEY)
    for key in (SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY, SID_KEY):
        request.session.pop(key, None)
    request.session[PENDING_KEY] = {"user": str(user.pk), "backend": backend, "at": time.time()}
    request.user = AnonymousUser()


def record_browser_session(request: HttpRequest, user: Any, amr: list[str]) -> None:
    client: Client = client_of(request)
    row = sessions.open_session(user, amr=amr, now=timezone.now(), client=client)
    request.session[SID_KEY] = str(row.pk)
    request.session.pop(PENDING_KEY, None)


def on_user_logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """``user_logged_in`` receiver: decides whether a browser login is complete."""
    if request is None or not hasattr(request, "session"):
        return
    amr = getattr(request, "_mfa_amr", None)
    if amr is not None:  # the challenge view completed the second factor
        record_browser_session(request, user, amr)
        return
    if flows.has_mfa(user):
        begin_partial_login(request, user)
        return
    record_browser_session(request, user, ["pwd"])


class PartialLoginMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not hasattr(request, "session") or not hasattr(request, "user"):
            raise ImproperlyConfigured(
                "mfa.middleware.PartialLoginMiddleware needs SessionMiddleware and "
                "AuthenticationMiddleware before it in MIDDLEWARE."
            )
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        static = getattr(settings, "STATIC_URL", None) or "/static/"
        if request.path.startswith("/" + static.lstrip("/")):
            return None
        is_api = request.path.startswith(API_PREFIX)
        if pending_login(request) is not None:
            if getattr(view_func, "mfa_exempt", False):
                return None
            if is_api:
                return _json("Finish signing in with your second factor.", "mfa_required", 401)
            return redirect(_page_url("challenge", request.get_full_path()))
        user = request.user
        if not user.is_authenticated or is_api:
            return None
        sid = request.session.get(SID_KEY)
        if sid is not None:
            row = sessions.live_session(sid, now=timezone.now())
            if row is None or row.user_id != user.pk:
                logout(request)
                messages.info(request, "Your session has ended. Please sign in again.")
                return redirect(_login_url(request))
            user = row.user
        state = policy.enrolment_state(user, has_mfa=user_has_mfa(user), now=timezone.now())
        if state == "required" and not (
            getattr(view_func, "mfa_enrolment", False) or getattr(view_func, "mfa_exempt", False)
        ):
            messages.warning(request, "Your account needs two-factor authentication. Set it up to continue.")
            return redirect(_page_url("enrol", request.get_full_path()))
        if state == "grace" and not request.session.get(REMINDED_KEY):
            request.session[REMINDED_KEY] = True
            ends = policy.grace_ends_at(user)
            messages.warning(
                request,
                f"Please set up two-factor authentication before {ends:%Y-%m-%d}: "
                "after that date it is required.",
            )
        return None


def _login_url(request: HttpRequest) -> str:
    try:
        return _page_url("login", request.get_full_path())
    except NoReverseMatch:
        return settings.LOGIN_URL
