"""Browser pages for security keys and passkeys (WebAuthn), and the small JSON endpoints their
script (mfa/static/mfa/webauthn.js) calls.

The keys page lists, renames and removes keys with plain forms. Adding a key, using one at the
challenge, confirming it is you before a removal, and signing in with a passkey need the
browser's WebAuthn API, so those go through JSON: an options call answers ``{ceremony_id,
publicKey}`` (what ``PublicKeyCredential.parseCreationOptionsFromJSON`` /
``parseRequestOptionsFromJSON`` read), a verify call takes ``{ceremony_id, credential}`` (what
``credential.toJSON()`` returns) and answers ``{redirect}``. Errors are ``{detail, code}`` with the
status of the domain error. Every endpoint is a POST under Django's CSRF protection and reads the
cookie session, never a bearer token. The rules are mfa.security_keys', as for the API.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_backends, login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from mfa import factors, flows, security_keys
from mfa.adapter import get_adapter
from mfa.exceptions import KeyNotFound, LockedOut, MFAError, PasskeyLoginDisabled, ReauthenticationRequired
from mfa.http import client_info, ip_rate_wait
from mfa.pages import trust
from mfa.pages.forms import CodeForm, KeyNameForm
from mfa.pages.middleware import mfa_enrolment_view, mfa_exempt, mfa_json
from mfa.pages.state import SID_KEY, pending_binding, pending_login, pending_user
from mfa.pages.views import _show_codes, browser_session, webauthn_available

# The Django session key holding recovery codes made by adding a first key, between the JSON
# call that made them and the page that shows them once.
NEW_CODES_KEY = "mfa.new_codes"


def _step_up_message() -> str:
    return _(
        "For your security, this needs your second factor within the last 5 minutes. Confirm it "
        "is you with your security key (or a code) on this page, or sign out and sign in again, "
        "then try again."
    )


# --- JSON plumbing ------------------------------------------------------------------------------


class _BadRequest(Exception):
    pass


def _error(detail: str, code: str, status: int, **headers: str) -> JsonResponse:
    response = JsonResponse({"detail": detail, "code": code}, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def webauthn_json(*, signed_in: bool, statuses: dict[str, int] | None = None) -> Callable:
    """Make ``view(request, body)`` a JSON endpoint of the pages: POST only, a JSON object body,
    ``signed_in`` (a completed cookie login) or not, no caching; mfa.exceptions become
    ``{detail, code}`` with their status (``statuses`` overrides it per code), a lockout a 429
    with Retry-After. Marked ``@mfa_json``, so during an unfinished login the middleware answers
    401 JSON instead of a redirect (views that must work then add ``@mfa_exempt``)."""
    statuses = statuses or {}

    def decorate(view: Callable[[HttpRequest, dict], JsonResponse]) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
            if request.method != "POST":
                return _error(_("Use POST."), "method_not_allowed", 405, Allow="POST")
            if signed_in and not request.user.is_authenticated:
                return _error(_("Sign in first."), "not_authenticated", 401)
            try:
                body = json.loads(request.body or b"{}")
                if not isinstance(body, dict):
                    raise _BadRequest()
            except (ValueError, _BadRequest):
                return _error(_("The request body must be a JSON object."), "invalid_request", 400)
            try:
                response = view(request, body, *args, **kwargs)
            except LockedOut as exc:
                detail = exc.detail
                if exc.code == "mfa_locked":
                    detail = get_adapter().get_error_message("mfa_locked_wait", seconds=exc.retry_after)
                return _error(detail, exc.code, 429, **{"Retry-After": str(exc.retry_after)})
            except ReauthenticationRequired as exc:
                return _error(_step_up_message(), exc.code, statuses.get(exc.code, 403))
            except MFAError as exc:
                return _error(exc.detail, exc.code, statuses.get(exc.code, int(exc.status_code)))
            response["Cache-Control"] = "no-store"
            return response

        return mfa_json(wrapper)

    return decorate


def _options(options: security_keys.Options) -> JsonResponse:
    return JsonResponse({"ceremony_id": options.ceremony_id, "publicKey": options.public_key})


def _name(body: dict) -> str:
    name = body.get("name")
    return name if isinstance(name, str) else ""


def _ceremony(body: dict) -> tuple[Any, Any]:
    return body.get("ceremony_id"), body.get("credential")


def _json_next(request: HttpRequest, body: dict, default: str) -> str:
    """The ``next`` of a JSON body when it is a URL of this site (the rule of _next_url), else
    ``default``."""
    candidate = body.get("next")
    if isinstance(candidate, str) and candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def _keys_url() -> str:
    return reverse("mfa_pages:keys")


# --- The keys page --------------------------------------------------------------------------------


@login_required
@mfa_enrolment_view
@never_cache
@require_GET
def key_list(request: HttpRequest) -> HttpResponse:
    """The user's security keys and passkeys, with rename and remove forms and the add buttons."""
    keys = list(security_keys.keys_of(request.user))
    now = timezone.now()
    session = browser_session(request)
    try:
        flows.require_recent_second_factor(session, now=now)
        recent = True
    except ReauthenticationRequired:
        recent = False
    confirmed = factors.confirmed_factors(request.user)
    has_mfa = bool(confirmed)
    return render(request, "mfa/keys.html", {
        "keys": keys,
        "available": webauthn_available(),
        "has_mfa": has_mfa,
        # Adding a further factor or removing one needs a recent second factor (NIST 4.1.2.1).
        "needs_confirmation": has_mfa and not recent,
        "has_totp": factors.Method.TOTP in confirmed,
        "code_form": CodeForm(),
    })


@login_required
@mfa_enrolment_view
@require_POST
def key_rename(request: HttpRequest, key_id: str) -> HttpResponse:
    form = KeyNameForm(request.POST, prefix=key_id)
    if not form.is_valid():
        messages.error(request, _("Give the key a name of at most 64 characters."))
        return redirect(_keys_url())
    try:
        key = security_keys.rename_key(
            request.user, key_id, form.cleaned_data["name"], client=client_info(request)
        )
    except KeyNotFound:
        messages.error(request, _("That security key was not found."))
    else:
        messages.success(request, _("The key is now called “%(name)s”.") % {"name": key.name})
    return redirect(_keys_url())


@login_required
@mfa_enrolment_view
@require_POST
def key_remove(request: HttpRequest, key_id: str) -> HttpResponse:
    """Remove a key: a second factor within the last 5 minutes is needed, else a message says how
    to give one (the confirm step on this page, or signing in again)."""
    try:
        security_keys.remove_key(
            request.user, key_id, now=timezone.now(), client=client_info(request),
            session=browser_session(request), keep_session_id=request.session.get(SID_KEY),
        )
    except KeyNotFound:
        messages.error(request, _("That security key was not found."))
    except ReauthenticationRequired:
        messages.warning(request, _step_up_message())
    else:
        if factors.has_mfa(request.user):
            messages.success(request, _("The security key was removed."))
        else:
            messages.success(
                request,
                _("The security key was removed. It was your last second factor: two-factor "
                  "authentication is off."),
            )
    return redirect(_keys_url())


@login_required
@mfa_enrolment_view
@never_cache
@require_POST
def confirm_with_code(request: HttpRequest) -> HttpResponse:
    """Confirm it is you with a TOTP or recovery code (the step-up before removing a key or
    adding another factor), for users who have an authenticator app or no key at hand."""
    form = CodeForm(request.POST)
    session = browser_session(request)
    if session is None or not form.is_valid():
        messages.error(request, _("Enter a valid code."))
        return redirect(_keys_url())
    try:
        flows.reauthenticate(
            request.user, session, code=form.cleaned_data["code"], password=None, now=timezone.now(),
            client=client_info(request),
        )
    except LockedOut as exc:
        messages.error(request, get_adapter().get_error_message("mfa_locked_wait", seconds=exc.retry_after))
    except MFAError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("Confirmed. For the next 5 minutes you can add or remove keys."))
    return redirect(_keys_url())


@login_required
@never_cache
@require_GET
def new_codes(request: HttpRequest) -> HttpResponse:
    """The recovery codes made by adding a first key, shown once (then gone from the session)."""
    codes = request.session.pop(NEW_CODES_KEY, None)
    if not isinstance(codes, list) or not codes:
        return redirect(_keys_url())
    return _show_codes(request, codes, _keys_url())


# --- JSON: adding a key, confirming with a key ------------------------------------------------------


@mfa_enrolment_view
@webauthn_json(signed_in=True)
def register_options(request: HttpRequest, body: dict) -> JsonResponse:
    passkey = body.get("passkey") is True
    return _options(security_keys.register_options(
        request.user, passkey=passkey, now=timezone.now(), session=browser_session(request)
    ))


@mfa_enrolment_view
@webauthn_json(signed_in=True)
def register_verify(request: HttpRequest, body: dict) -> JsonResponse:
    """Add the key; the first factor's recovery codes go to a page that shows them once."""
    ceremony_id, credential = _ceremony(body)
    key, codes = security_keys.register_verify(
        request.user, ceremony_id, credential, _name(body), now=timezone.now(),
        client=client_info(request), session=browser_session(request),
        keep_session_id=request.session.get(SID_KEY),
    )
    if codes:
        request.session[NEW_CODES_KEY] = codes
        messages.success(request, _("Your security key is added: two-factor authentication is on."))
        return JsonResponse({"redirect": reverse("mfa_pages:new_codes")}, status=201)
    messages.success(request, _("The key “%(name)s” is added.") % {"name": key.name})
    return JsonResponse({"redirect": _keys_url()}, status=201)


@webauthn_json(signed_in=True)
def confirm_options(request: HttpRequest, body: dict) -> JsonResponse:
    session = browser_session(request)
    if session is None:
        raise ReauthenticationRequired()
    return _options(security_keys.reauthenticate_options(request.user, session, now=timezone.now()))


@webauthn_json(signed_in=True)
def confirm_verify(request: HttpRequest, body: dict) -> JsonResponse:
    """Re-authentication with a key: this browser's session gets a fresh second-factor time."""
    session = browser_session(request)
    if session is None:
        raise ReauthenticationRequired()
    ceremony_id, credential = _ceremony(body)
    security_keys.reauthenticate_verify(
        request.user, session, ceremony_id, credential, now=timezone.now(), client=client_info(request)
    )  # the access token it returns is for API clients: this browser keeps its cookie
    messages.success(request, _("Confirmed. For the next 5 minutes you can add or remove keys."))
    return JsonResponse({"redirect": _json_next(request, body, _keys_url())})


# --- JSON: a key at the challenge ---------------------------------------------------------------------


def _pending(request: HttpRequest) -> tuple[Any, str]:
    user = pending_user(request)
    binding = pending_binding(request) if user is not None else None
    if user is None or binding is None:
        raise _NoPendingLogin()
    return user, binding


class _NoPendingLogin(MFAError):
    code = "no_pending_login"
    status_code = 401

    @property
    def detail(self) -> str:
        return _("Sign in with your password first (an unfinished sign-in expires after 5 minutes).")


@mfa_exempt
@webauthn_json(signed_in=False, statuses={"invalid_credential": 401})
def challenge_options(request: HttpRequest, body: dict) -> JsonResponse:
    user, binding = _pending(request)
    return _options(security_keys.browser_login_options(user, binding, now=timezone.now()))


@mfa_exempt
@webauthn_json(signed_in=False, statuses={"invalid_credential": 401})
def challenge_verify(request: HttpRequest, body: dict) -> JsonResponse:
    """A key as the second factor of this browser's login: the login completes as with a code
    (``trust_device: true`` in the body trusts this browser, as the challenge's box does)."""
    user, binding = _pending(request)
    backend = pending_login(request).get("backend")  # type: ignore[union-attr]
    ceremony_id, credential = _ceremony(body)
    amr = security_keys.browser_login_verify(
        user, binding, ceremony_id, credential, now=timezone.now(), client=client_info(request)
    )
    request._mfa_amr = amr  # type: ignore[attr-defined]
    login(request, user, backend=backend)  # rotates the session key; records the session row
    response = JsonResponse({"redirect": _json_next(request, body, reverse("mfa_pages:home"))})
    if body.get("trust_device") is True:  # the challenge page's "Trust this browser" box
        trust.trust_this_browser(request, response, user)
    return response


# --- JSON: signing in with a passkey -----------------------------------------------------------------


def _passkey_backend() -> str:
    """The authentication backend a passkey login is recorded with: the first configured one
    (a passkey proves the user; no backend checked a password)."""
    configured = getattr(settings, "AUTHENTICATION_BACKENDS", None) or []
    if configured:
        return configured[0]
    backend = get_backends()[0]
    return f"{type(backend).__module__}.{type(backend).__qualname__}"


def _passkey_gate(request: HttpRequest) -> None:
    """Off: 404 before anything else; then the per-IP limit of passkey login."""
    if not security_keys.passkey_login_enabled():
        raise PasskeyLoginDisabled()
    wait = ip_rate_wait(request, "passkey_login")
    if wait is not None:
        raise _Throttled(wait)


class _Throttled(LockedOut):
    """Too many passkey sign-ins from this IP address (MFA["IP_RATES"]["passkey_login"])."""

    code = "throttled"

    @property
    def detail(self) -> str:
        return _("Too many sign-in attempts from your network. Try again in %(seconds)d seconds.") % {
            "seconds": self.retry_after
        }


@webauthn_json(signed_in=False, statuses={"invalid_credential": 401})
def passkey_options(request: HttpRequest, body: dict) -> JsonResponse:
    _passkey_gate(request)
    return _options(security_keys.passkey_login_options(now=timezone.now()))


@webauthn_json(signed_in=False, statuses={"invalid_credential": 401})
def passkey_verify(request: HttpRequest, body: dict) -> JsonResponse:
    """Sign in with a passkey alone: passkey_login_user's rules, then a cookie login whose
    session row carries the passkey's amr."""
    _passkey_gate(request)
    ceremony_id, credential = _ceremony(body)
    user, amr = security_keys.passkey_login_user(
        ceremony_id, credential, now=timezone.now(), client=client_info(request)
    )
    request._mfa_amr = amr  # type: ignore[attr-defined]
    login(request, user, backend=_passkey_backend())  # rotates the session key
    return JsonResponse({"redirect": _json_next(request, body, reverse("mfa_pages:home"))})
