"""PartialLoginMiddleware: browser (cookie session) logins get the same second factor as the API.

After a correct password for a user with MFA on (through any login view, the Django admin's
included), the login is undone at once and the session only remembers who is half-way through
(mfa.pages.state). ``request.user`` stays anonymous; every page but the challenge, logout, static
files and views marked ``@mfa_exempt`` redirects to the challenge, and API views (Django REST
framework views, and views marked ``@mfa_json``) answer 401 JSON. The state expires after
MFA["MFA_TOKEN_LIFETIME"] (5 minutes). A correct code completes the login through
``django.contrib.auth.login``, which rotates the session key.

A completed browser login whose session row ended (in the API, the admin or the sessions page) or
expired is signed out: pages redirect to the sign-in page, JSON views answer 401 ``session_ended``.

It also applies mandatory MFA (the adapter's is_mfa_required) to pages: past the grace period a
user without MFA reaches only enrolment and logout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from mfa import policy, sessions
from mfa.adapter import get_adapter
from mfa.pages.state import LIVE_ROW_ATTR, REMINDED_KEY, SID_KEY, pending_login
from mfa.policy import EnrolmentState


def mfa_exempt(view: Callable) -> Callable:
    """Mark a view as reachable during a half-authenticated login (like the challenge)."""
    view.mfa_exempt = True  # type: ignore[attr-defined]
    return view


def mfa_enrolment_view(view: Callable) -> Callable:
    """Mark a view as reachable by a user who must enrol before anything else."""
    view.mfa_enrolment = True  # type: ignore[attr-defined]
    return view


def mfa_json(view: Callable) -> Callable:
    """Mark a view whose clients read JSON (Django REST framework views need no mark): during an
    unfinished login it answers 401 JSON ``mfa_required`` instead of redirecting to the challenge."""
    view.mfa_json = True  # type: ignore[attr-defined]
    return view


def is_json_view(view: Callable) -> bool:
    """A Django REST framework view (``as_view()`` keeps its class in ``cls``) or one marked
    ``@mfa_json``. No path prefix is assumed: a host mounts its API wherever it likes."""
    if getattr(view, "mfa_json", False):
        return True
    view_class = getattr(view, "cls", None)
    return isinstance(view_class, type) and any(
        f"{k.__module__}.{k.__qualname__}" == "rest_framework.views.APIView" for k in view_class.__mro__
    )


def _page_url(name: str, next_url: str | None = None) -> str:
    url = reverse(f"mfa_pages:{name}")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def _json(detail: str, code: str, status: int) -> JsonResponse:
    response = JsonResponse({"detail": detail, "code": code}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


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
        is_api = is_json_view(view_func)
        if pending_login(request) is not None:
            if getattr(view_func, "mfa_exempt", False):
                return None
            if is_api:
                return _json(get_adapter().get_error_message("mfa_required"), "mfa_required", 401)
            return redirect(_page_url("challenge", request.get_full_path()))
        user = request.user
        if not user.is_authenticated:
            return None
        sid = request.session.get(SID_KEY)
        if sid is not None:
            row = sessions.live_session(sid, now=timezone.now())
            if row is None or row.user_id != user.pk:
                # Its session row ended (API, admin, sessions page) or expired: signed out, JSON
                # views included (they read the same cookie login).
                logout(request)
                if is_api:
                    return _json(get_adapter().get_error_message("session_ended"), "session_ended", 401)
                messages.info(request, _("Your session has ended. Please sign in again."))
                return redirect(_login_url(request))
            setattr(request, LIVE_ROW_ATTR, row)  # for views.browser_session
            user = row.user
        if is_api:
            return None
        state = policy.enrolment_state(user, now=timezone.now())
        if state == EnrolmentState.REQUIRED and not (
            getattr(view_func, "mfa_enrolment", False) or getattr(view_func, "mfa_exempt", False)
        ):
            messages.warning(
                request, _("Your account needs two-factor authentication. Set it up to continue.")
            )
            return redirect(_page_url("enrol", request.get_full_path()))
        if state == EnrolmentState.GRACE and not request.session.get(REMINDED_KEY):
            request.session[REMINDED_KEY] = True
            ends = policy.grace_ends_at(user)
            messages.warning(
                request,
                _(
                    "Please set up two-factor authentication before %(date)s: after that date it "
                    "is required."
                ) % {"date": formats.date_format(ends, "Y-m-d")},
            )
        return None


def _login_url(request: HttpRequest) -> str:
    try:
        return _page_url("login", request.get_full_path())
    except NoReverseMatch:
        return settings.LOGIN_URL
