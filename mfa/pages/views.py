"""Browser pages: sign in, the MFA challenge, enrolment, recovery codes, disable, sessions, password reset.

Plain Django templates, CSRF-protected, usable without JavaScript. Each view is thin: it calls
mfa.flows / mfa.sessions like the API does (the sign-in form too: mfa.pages.forms).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from mfa import factors, flows, password_reset, passwords, security_keys, sessions, trusted_devices
from mfa.adapter import get_adapter
from mfa.exceptions import (
    InvalidResetToken,
    LockedOut,
    LoginLocked,
    MFAError,
    ReauthenticationRequired,
    SecretUnavailable,
    TrustedDeviceNotFound,
)
from mfa.http import client_info
from mfa.methods import totp, webauthn
from mfa.models import RevokeReason
from mfa.pages import trust
from mfa.pages.forms import (
    ChallengeForm,
    CodeForm,
    DisableForm,
    EnrolForm,
    PasswordChangeForm,
    PasswordLoginForm,
    PasswordResetRequestForm,
    SetNewPasswordForm,
)
from mfa.pages.middleware import mfa_enrolment_view, mfa_exempt
from mfa.pages.state import LIVE_ROW_ATTR, SID_KEY, pending_login, pending_user
from mfa.tokens import AMR


def _next_url(request: HttpRequest, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def browser_session(request: HttpRequest) -> Any:
    """The AuthSession row of this browser's completed login (for step-up rules), its user and
    their MFA rows loaded, or None. The row the middleware found live for this request's session
    id when it did (no second read), else read now."""
    sid = request.session.get(SID_KEY)
    if not sid:
        return None
    kept = getattr(request, LIVE_ROW_ATTR, None)
    if kept is not None and str(kept.pk) == str(sid):
        return kept
    return sessions.live_session(sid, now=timezone.now())


def webauthn_available() -> bool:
    """Whether security keys work on this site (MFA["WEBAUTHN_ORIGINS"] configured)."""
    return webauthn.relying_party() is not None


def _home() -> str:
    return reverse("mfa_pages:home")


class LoginView(auth_views.LoginView):
    """Sign in with the user model's USERNAME_FIELD and password; MFA users continue at the challenge."""

    template_name = "mfa/login.html"
    form_class = PasswordLoginForm  # the API login's use case: same backoff, same events
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return _home()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["signup_url"] = get_adapter().get_signup_url()
        context["passkey_login"] = security_keys.passkey_login_enabled() and webauthn_available()
        return context

    def form_valid(self, form: Any) -> HttpResponse:
        """The password was right. When this browser's cookie holds a live trusted device of this
        user, the login completes without the challenge (the user_logged_in receiver records a
        session with ``amr`` "pwd tdev"); an entry for this user that is no longer valid (revoked,
        expired, bound to an old password or set of factors) is dropped from the cookie."""
        user = form.get_user()
        device = trust.device_of(self.request, user) if factors.has_mfa(user) else None
        if device is not None:
            self.request._mfa_trusted_device = device  # type: ignore[attr-defined]
        response = super().form_valid(form)
        if device is None and trust.token_for(self.request, user) is not None:
            trust.forget(self.request, response, user)
        return response

    def form_invalid(self, form: Any) -> HttpResponse:
        locked = getattr(form, "locked", None)
        if locked is None:
            return super().form_invalid(form)
        response = self.render_to_response(self.get_context_data(form=form), status=429)
        response["Retry-After"] = str(locked.retry_after)
        return response


class LogoutView(auth_views.LogoutView):
    """Signs out; the session row ends through the ``user_logged_out`` receiver (mfa.pages.state),
    as it does for the admin's sign-out."""

    template_name = "mfa/logged_out.html"


logout_view = mfa_exempt(mfa_enrolment_view(LogoutView.as_view()))
login_view = LoginView.as_view()


@dataclass
class Attempt:
    """What happened to a form post: ``ok`` with the action's result, or the status to answer."""

    ok: bool
    result: Any = None
    status: int = 200


def _submit(request: HttpRequest, form: Any, action: Callable[[dict[str, Any]], Any]) -> Attempt:
    """On POST, validate ``form`` and run ``action(cleaned_data)`` (a mfa.flows call).

    A wrong code or password goes onto the form as an error (400), a lockout too (429); a GET is
    just shown (200). The same rules as the API, since the same domain functions run.
    """
    if request.method != "POST":
        return Attempt(False)
    if not form.is_valid():
        return Attempt(False, status=400)
    try:
        return Attempt(True, action(form.cleaned_data))
    except LockedOut as exc:
        form.add_error(None, get_adapter().get_error_message("mfa_locked_wait", seconds=exc.retry_after))
        return Attempt(False, status=429)
    except SecretUnavailable as exc:
        # Not the code's fault: a form-wide error, and a 503 as the API answers.
        form.add_error(None, str(exc.detail))
        return Attempt(False, status=exc.status_code)
    except MFAError as exc:
        field = "password" if exc.code == "invalid_password" and "password" in form.fields else "code"
        form.add_error(field, str(exc.detail))
        return Attempt(False, status=400)


@mfa_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def challenge(request: HttpRequest) -> HttpResponseBase:
    """The second step of a browser login: a TOTP code or a recovery code, and "Trust this
    browser" (mfa.pages.trust), asked for once the login is complete."""
    pending = pending_login(request)
    if pending is None:
        messages.info(request, _("Sign in first (an unfinished sign-in expires after 5 minutes)."))
        return redirect(reverse("mfa_pages:login"))
    user = pending_user(request)
    if user is None:  # the account is gone or inactive, or its password changed meanwhile
        request.session.flush()
        messages.info(request, _("Sign in again."))
        return redirect(reverse("mfa_pages:login"))
    form = ChallengeForm(request.POST or None)
    client = client_info(request)
    attempt = _submit(
        request, form,
        lambda data: flows.verify_browser_login(user, data["code"], now=timezone.now(), client=client),
    )
    if attempt.ok:
        amr = attempt.result
        request._mfa_amr = amr  # type: ignore[attr-defined]
        login(request, user, backend=pending.get("backend"))  # rotates the session key
        if AMR.RECOVERY_CODE in amr:
            messages.warning(request, _("You used a recovery code. Consider creating new ones."))
        response = redirect(_next_url(request, _home()))
        if form.trust_requested:
            trust.trust_this_browser(request, response, user)
        return response
    status = attempt.status
    use_key = webauthn_available() and security_keys.keys_of(user).exists()
    return render(
        request, "mfa/challenge.html",
        {"form": form, "next": _next_url(request, ""), "use_key": use_key}, status=status,
    )


@login_required
@mfa_enrolment_view
@never_cache
def home(request: HttpRequest) -> HttpResponse:
    session = browser_session(request)
    # The session row's user carries the MFA rows: the questions below need no query then.
    user = session.user if session is not None and session.user_id == request.user.pk else request.user
    account = factors.account_of(user)
    return render(request, "mfa/home.html", {
        "device": factors.confirmed_totp_device_of(user),
        "account": account,
        "has_mfa": factors.has_mfa(user),
        "key_count": account.key_count if account is not None else 0,
    })


@login_required
@mfa_enrolment_view
@never_cache
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    """Show the QR code and secret, then confirm with a first code; shows the recovery codes when
    this is the account's first factor."""
    if factors.confirmed_totp_device_of(request.user) is not None:
        messages.info(request, _("Two-factor authentication is already on."))
        return redirect(_home())
    now = timezone.now()
    session = browser_session(request)
    form = EnrolForm(request.POST or None)
    attempt = _submit(
        request, form,
        lambda data: flows.confirm_setup(
            request.user, data["code"], now=now, client=client_info(request),
            keep_session_id=request.session.get(SID_KEY), session=session,
        ),
    )
    if attempt.ok:
        messages.success(request, _("Two-factor authentication is on."))
        if not attempt.result:  # a further factor: the recovery codes stay as they were
            return redirect(_next_url(request, _home()))
        return _show_codes(request, attempt.result, _next_url(request, _home()))
    status = attempt.status
    try:
        enrolment = flows.current_enrolment(request.user, now=now, session=session)
    except ReauthenticationRequired:
        messages.info(request, _("Confirm it is you with your second factor first."))
        return redirect(_home())
    return render(
        request, "mfa/enrol.html",
        {
            "form": form,
            "secret": enrolment.secret,
            "secret_groups": " ".join(enrolment.secret[i : i + 4] for i in range(0, 32, 4)),
            "otpauth_uri": enrolment.otpauth_uri,
            "qr_svg": totp.qr_data_uri(enrolment.otpauth_uri),
            "next": _next_url(request, ""),
        },
        status=status,
    )


def _show_codes(request: HttpRequest, codes: list[str], continue_url: str) -> HttpResponse:
    text = _("Recovery codes (each works once):") + "\n" + "\n".join(codes) + "\n"
    response = render(
        request, "mfa/recovery_codes.html",
        {
            "codes": codes,
            "download": "data:text/plain;charset=utf-8," + quote(text),
            "continue_url": continue_url,
        },
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def regenerate_codes(request: HttpRequest) -> HttpResponse:
    form = CodeForm(request.POST or None)
    attempt = _submit(
        request, form,
        lambda data: flows.regenerate_recovery_codes(
            request.user, data["code"], now=timezone.now(), client=client_info(request)
        ),
    )
    if attempt.ok:
        return _show_codes(request, attempt.result, _home())
    return render(request, "mfa/regenerate.html", {"form": form}, status=attempt.status)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def disable(request: HttpRequest) -> HttpResponse:
    form = DisableForm(request.POST or None)
    attempt = _submit(
        request, form,
        lambda data: flows.disable(
            request.user, data["password"], data["code"], now=timezone.now(),
            client=client_info(request), keep_session_id=request.session.get(SID_KEY),
            session=browser_session(request),
        ),
    )
    if attempt.ok:
        messages.success(request, _("Two-factor authentication is off."))
        return redirect(_home())
    return render(request, "mfa/disable.html", {"form": form}, status=attempt.status)


@login_required
@mfa_enrolment_view
@never_cache
def session_list(request: HttpRequest) -> HttpResponse:
    rows = list(sessions.live_sessions(request.user, now=timezone.now()))
    current = request.session.get(SID_KEY)
    return render(request, "mfa/sessions.html", {"sessions": rows, "current": current})


@login_required
@mfa_enrolment_view
@require_POST
def logout_everywhere(request: HttpRequest) -> HttpResponse:
    """"Sign out everywhere": every session of the user ends, this browser's included, and every
    device they trusted is forgotten (mfa.flows.logout_everywhere)."""
    user = request.user
    flows.logout_everywhere(user, now=timezone.now(), client=client_info(request))
    logout(request)
    messages.success(request, _("You are signed out everywhere, and no device is trusted any more."))
    response = redirect(reverse("mfa_pages:login"))
    trust.forget(request, response, user)
    return response


# --- Trusted devices (mfa.trusted_devices; this browser's cookie: mfa.pages.trust) --------------------


def _trusted_devices_url() -> str:
    return reverse("mfa_pages:trusted_devices")


@login_required
@mfa_enrolment_view
@never_cache
def trusted_device_list(request: HttpRequest) -> HttpResponse:
    """The user's trusted devices, this browser's marked, each with "Forget", and "Forget all"."""
    user = request.user
    here = trust.device_of(request, user)
    session = browser_session(request)
    current = {str(pk) for pk in (here and here.pk, session and session.trusted_device_id) if pk}
    return render(request, "mfa/trusted_devices.html", {
        "devices": list(trusted_devices.live_devices(user, now=timezone.now())),
        "current": current,
        "trust_days": trusted_devices.enabled(),
    })


@login_required
@mfa_enrolment_view
@require_POST
def forget_device(request: HttpRequest, device_id: str) -> HttpResponse:
    here = trust.device_of(request, request.user)
    response = redirect(_trusted_devices_url())
    try:
        trusted_devices.revoke(request.user, device_id, client=client_info(request))
    except TrustedDeviceNotFound:
        messages.error(request, _("That device was not found."))
    else:
        messages.success(request, _("The device is no longer trusted."))
        if here is not None and str(here.pk) == device_id:
            trust.forget(request, response, request.user)
    return response


@login_required
@mfa_enrolment_view
@require_POST
def forget_all_devices(request: HttpRequest) -> HttpResponse:
    trusted_devices.revoke_all(request.user, client=client_info(request), reason="revoked_all")
    messages.success(request, _("No device is trusted any more: every sign-in asks for your second factor."))
    response = redirect(_trusted_devices_url())
    trust.forget(request, response, request.user)
    return response


@login_required
@mfa_enrolment_view
@require_POST
def end_session(request: HttpRequest, session_id: str) -> HttpResponse:
    try:
        sessions.revoke_session(
            request.user, session_id, now=timezone.now(), client=client_info(request),
            reason=RevokeReason.REVOKED,
        )
    except MFAError:
        messages.error(request, _("That session was not found."))
    else:
        messages.success(request, _("The session has ended."))
    return redirect(reverse("mfa_pages:sessions"))


# --- Password reset (the API's rules: mfa.password_reset) -------------------------------------------


@mfa_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def reset_request(request: HttpRequest) -> HttpResponse:
    """"Forgot your password?": an email address, then the same "check your email" page for
    every address; the per-IP and per-address limits answer 429 here too."""
    form = PasswordResetRequestForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "mfa/password_reset.html", {"form": form}, status=400)
        try:
            password_reset.request_reset(
                form.cleaned_data["email"], now=timezone.now(), client=client_info(request)
            )
        except LockedOut as exc:
            form.add_error(None, get_adapter().get_error_message("password_reset_throttled"))
            response = render(request, "mfa/password_reset.html", {"form": form}, status=429)
            response["Retry-After"] = str(exc.retry_after)
            return response
        return redirect(reverse("mfa_pages:password_reset_done"))
    return render(request, "mfa/password_reset.html", {"form": form})


@mfa_exempt
@never_cache
def reset_done(request: HttpRequest) -> HttpResponse:
    return render(request, "mfa/password_reset_done.html")


@mfa_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def reset_confirm(request: HttpRequest, uid: str, token: str) -> HttpResponse:
    """The link of the reset email: the new password twice. Success signs nobody in (a browser
    that was signed in is signed out) and goes to the sign-in page."""
    now = timezone.now()
    form = SetNewPasswordForm(request.POST or None)
    status = 200
    if request.method == "GET":
        if password_reset.user_for_link(uid, token, now=now) is None:
            return _invalid_link(request)
    elif not form.is_valid():
        status = 400
    else:
        try:
            password_reset.confirm_reset(
                uid, token, form.cleaned_data["new_password1"], now=now, client=client_info(request)
            )
        except InvalidResetToken:
            return _invalid_link(request)
        except ValidationError as exc:
            form.add_error("new_password1", exc)
            status = 400
        else:
            logout(request)  # whoever was signed in here, and any unfinished sign-in
            messages.success(request, _("Your password has been changed. Sign in with the new one."))
            return redirect(reverse("mfa_pages:login"))
    response = render(request, "mfa/password_reset_confirm.html", {"form": form}, status=status)
    return _no_token_in_referer(response)


def _invalid_link(request: HttpRequest) -> HttpResponse:
    return _no_token_in_referer(render(request, "mfa/password_reset_invalid.html", status=400))


def _no_token_in_referer(response: HttpResponse) -> HttpResponse:
    """The path holds the token: no Referer to other sites. Not "no-referrer": browsers then send
    ``Origin: null`` with the form, which Django's CSRF check refuses."""
    response["Referrer-Policy"] = "same-origin"
    return response


@login_required
@mfa_enrolment_view
@never_cache
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    """Change the password: the current one (through the password gate), the new one twice. This
    browser stays signed in; every other session ends."""
    form = PasswordChangeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                passwords.change_password(
                    request.user, data["current_password"], data["new_password1"], now=timezone.now(),
                    client=client_info(request), keep_session_id=request.session.get(SID_KEY),
                )
            except LoginLocked as exc:
                wait = get_adapter().get_error_message("login_locked_wait", seconds=exc.retry_after)
                form.add_error(None, wait)
                status = 429
            except MFAError as exc:
                form.add_error("current_password", str(exc.detail))
            except ValidationError as exc:
                form.add_error("new_password1", exc)
            else:
                update_session_auth_hash(request, request.user)  # this browser stays signed in
                messages.success(request, _("Your password has been changed. Other devices were signed out."))
                return redirect(_home())
    return render(request, "mfa/password_change.html", {"form": form}, status=status)
