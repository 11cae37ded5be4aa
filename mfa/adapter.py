"""The adapter: what a host site customises, by subclassing and naming it in MFA["ADAPTER"].

It decides the words users read (every error message, in the active language), who must use MFA,
the names an authenticator app shows, and how a security notification reaches the user.
"""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import send_mail
from django.utils.translation import gettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _

from mfa.conf import mfa_settings

logger = logging.getLogger("mfa.adapter")


class DefaultMFAAdapter:
    """Default behaviour; override any method or message in a subclass."""

    # Messages by key (an error code, or a more specific key for the same code). Values may use
    # %(name)s placeholders filled by get_error_message(key, name=...).
    error_messages: dict[str, Any] = {
        "invalid_code": _("Invalid code."),
        "totp_disabled": _(
            "Your authenticator app is disabled after too many wrong codes. Use a recovery code."
        ),
        "mfa_secret_unavailable": _(
            "Your authenticator can't be checked right now. Use a recovery code, or contact support."
        ),
        "invalid_password": _("Invalid password."),
        "invalid_credentials": _("Invalid %(username)s or password."),
        "invalid_mfa_token": _("The MFA token is invalid, expired or already used. Log in again."),
        "token_not_valid": _("Token is invalid or expired."),
        "bad_authorization_header": _("Authorization header must be 'Bearer <token>'."),
        "mfa_locked": _("Too many wrong codes. Try again later."),
        "login_locked": _("Too many failed logins. Try again later."),
        "no_pending_setup": _("There is no pending MFA setup. Call mfa/setup first."),
        "mfa_already_enabled": _("MFA is already enabled. Disable it first to enrol a new authenticator."),
        "mfa_not_enabled": _("MFA is not enabled for this account."),
        "not_found": _("Not found."),
        "passkey_login_disabled": _("Signing in with a passkey is not enabled on this site."),
        "invalid_reset_token": _(
            "This password reset link is invalid, expired or already used. Ask for a new one."
        ),
        "password_reset_throttled": _("Too many password reset requests. Try again later."),
        "webauthn_not_configured": _("Security keys and passkeys are not available on this site."),
        "invalid_credential": _("The security key's answer could not be verified."),
        # A browser half-way through signing in calls an API view.
        "mfa_required": _("Finish signing in with your second factor."),
        # A browser whose session was ended (API, admin, sessions page) calls a JSON view.
        "session_ended": _("Your session has ended. Please sign in again."),
        # IsMFAComplete and RecentSecondFactor refusals.
        "second_factor_required": _("This action needs a login with a second factor."),
        "reauthentication_required": _(
            "This action needs your second factor again: re-authenticate (POST reauthenticate "
            "with a code), then retry."
        ),
        "code_required": _(
            "This account uses two-factor authentication: give a code from your authenticator "
            "app or a recovery code, not the password."
        ),
        "mfa_enrollment_required": _(
            "Multi-factor authentication is required for this account: enrol first "
            "(mfa/setup, then mfa/verify)."
        ),
        # Malformed codes (API fields and page forms alike).
        "invalid_totp_format": _("Enter the 6-digit code from your authenticator app: six digits 0-9."),
        "invalid_code_format": _(
            "Enter the 6-digit code from your authenticator app (six digits 0-9) or a recovery "
            "code (XXXXX-XXXXX-XXXXX)."
        ),
        # On the pages, where a lockout is shown with its wait.
        "login_locked_wait": ngettext_lazy(
            "Too many failed sign-ins. Try again in %(seconds)d second.",
            "Too many failed sign-ins. Try again in %(seconds)d seconds.",
            "seconds",
        ),
        "mfa_locked_wait": ngettext_lazy(
            "Too many wrong attempts. Try again in %(seconds)d second.",
            "Too many wrong attempts. Try again in %(seconds)d seconds.",
            "seconds",
        ),
    }

    # Subjects of the notification emails, by event type.
    notification_subjects: dict[str, Any] = {
        "mfa_enabled": _("Two-factor authentication was turned on"),
        "mfa_disabled": _("Two-factor authentication was turned off"),
        "recovery_codes_regenerated": _("New recovery codes were created"),
        "mfa_locked": _("Several wrong two-factor codes were entered"),
        "factor_added": _("A second factor was added to your account"),
        "device_trusted": _("A device was trusted to sign in without your second factor"),
        "factor_removed": _("A second factor was removed from your account"),
        "key_renamed": _("One of your security keys was renamed"),
        "key_counter_regression": _("One of your security keys may have been copied"),
        "login_locked": _("Several wrong passwords were entered for your account"),
        "password_changed": _("Your password was changed"),
    }

    # --- Messages ---------------------------------------------------------------------------------

    def get_error_message(self, key: str, **params: Any) -> str:
        """The message for ``key`` in the active language, placeholders filled."""
        if key == "invalid_credentials" and "username" not in params:
            params["username"] = self.get_username_label()
        message = self.error_messages.get(key)
        if message is None:
            return gettext("The request could not be completed.")
        return str(message % params) if params else str(message)

    def get_username_label(self) -> str:
        """What users call the login identifier: "email" when the user model logs in by its email
        field, else the USERNAME_FIELD's verbose name ("username" for Django's User)."""
        from django.contrib.auth import get_user_model

        model = get_user_model()
        field = model.USERNAME_FIELD
        if field == model.get_email_field_name():
            return gettext("email")
        return str(model._meta.get_field(field).verbose_name)

    # --- Policy -----------------------------------------------------------------------------------

    def is_mfa_required(self, user: Any) -> bool:
        """Whether ``user`` must have a second factor (MFA["REQUIRED"]: None, "staff", "all" or
        group names). The grace period (MFA["REQUIRED_GRACE_DAYS"]) applies on top of it."""
        rule = mfa_settings.REQUIRED
        if not rule or not getattr(user, "is_authenticated", False):
            return False
        if rule == "all":
            return True
        if rule == "staff":
            return bool(user.is_staff or user.is_superuser)
        if isinstance(rule, (list, tuple, set)):
            return user.groups.filter(name__in=list(rule)).exists()
        return False

    # --- Links the pages offer -----------------------------------------------------------------

    def get_signup_url(self) -> str | None:
        """Where "Create an account" on the sign-in page leads: MFA["SIGNUP_URL"] (a URL name or a
        path), else the URL named "signup" if the site has one, else no link (mfa itself does not
        create accounts)."""
        from django.urls import NoReverseMatch, reverse

        target = mfa_settings.SIGNUP_URL or "signup"
        if isinstance(target, str) and target.startswith("/"):
            return target
        try:
            return reverse(target)
        except NoReverseMatch:
            return None

    # --- What authenticator apps show ------------------------------------------------------------

    def get_issuer(self, user: Any) -> str:
        """The issuer shown by authenticator apps (Key Uri Format ``issuer``): MFA["ISSUER"], else
        the site's name."""
        return mfa_settings.ISSUER or self.get_site_name()

    def get_site_name(self) -> str:
        """The current Site's name with django.contrib.sites, else the project's name (the
        package of ROOT_URLCONF, e.g. "mysite" for a startproject site)."""
        if apps.is_installed("django.contrib.sites"):
            from django.contrib.sites.models import Site

            try:
                return Site.objects.get_current().name
            except (Site.DoesNotExist, ImproperlyConfigured):
                pass
        urlconf = getattr(settings, "ROOT_URLCONF", "")
        module = urlconf if isinstance(urlconf, str) else getattr(urlconf, "__name__", "")
        return module.split(".")[0] or "Django"

    def get_account_name(self, user: Any) -> str:
        """The account name in the otpauth label: the email, else the username."""
        email_field = user.get_email_field_name()
        return getattr(user, email_field, "") or user.get_username()

    # --- Notifications ----------------------------------------------------------------------------

    def notify(self, user: Any, event: str) -> None:
        """Tell the user about a change to their second factor (NIST 800-63B 4.6): composes the
        message and hands it to send_notification()."""
        address = getattr(user, user.get_email_field_name(), "")
        subject = self.notification_subjects.get(str(event))
        if not address or not subject:
            return
        body = gettext(
            "%(change)s for your account %(account)s.\n\n"
            "If this was not you, reset your password and contact support at once."
        ) % {"change": subject, "account": address}
        self.send_notification(user, address, str(subject), body)

    def send_notification(self, user: Any, address: str, subject: str, body: str) -> None:
        """Send one notification (default: an email through Django's mail API). A failure is
        logged, never raised: the change it reports has already happened."""
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address])
        except OSError:
            logger.warning("could not send a notification email: %s", subject)


    # --- Password reset -----------------------------------------------------------------------

    def get_password_reset_url(self, uid: str, token: str) -> str:
        """The absolute link of a reset email: MFA["SITE_URL"] (the configured origin, never a
        request's Host header) and the path of the pages' reset confirm view. Raises
        ImproperlyConfigured when SITE_URL is not set."""
        from django.urls import reverse

        base = mfa_settings.SITE_URL
        if not base:
            raise ImproperlyConfigured(
                'MFA["SITE_URL"] is not set (authsite: the SITE_URL environment variable): reset '
                "links need the site's own address."
            )
        path = reverse("mfa_pages:password_reset_confirm", kwargs={"uid": uid, "token": token})
        return str(base).rstrip("/") + path

    def send_password_reset(self, user: Any, address: str, url: str) -> None:
        """Email the reset link to ``address``. A failure is logged, never raised: the request
        was answered already, the same way for every address."""
        minutes = max(1, int(getattr(settings, "PASSWORD_RESET_TIMEOUT", 3600)) // 60)
        subject = gettext("Reset your password")
        body = gettext(
            "Someone asked to reset the password of your account %(account)s at %(site)s.\n\n"
            "To choose a new password, open this link. It works once, for %(minutes)d minutes:\n\n"
            "%(url)s\n\n"
            "If you did not ask for this, ignore this email: your password stays as it is. "
            "Your two-factor authentication stays on either way."
        ) % {"account": address, "site": self.get_issuer(user), "minutes": minutes, "url": url}
        self.send_notification(user, address, subject, body)


def get_adapter() -> DefaultMFAAdapter:
    return mfa_settings.ADAPTER()
