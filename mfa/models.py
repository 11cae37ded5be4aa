"""The mfa app's data: TOTP devices, recovery codes, sessions (with used mfa_token ids), audit events,
and the fixed vocabularies stored in them (event types, revoke reasons).

Every model has a UUID primary key, so one set of migrations applies on SQLite, PostgreSQL and
MongoDB (the user's own pk may be an int or an ObjectId: code never assumes either). Only field
uniques are used: expression constraints are silently not created on MongoDB.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mfa.conf import mfa_settings
from mfa.indexes import ExpiringIndex


class EventType(models.TextChoices):
    """The ``type`` of a SecurityEvent. mfa.events maps each to the signal it sends."""

    LOGIN = "login", _("Signed in")
    LOGIN_FAILED = "login_failed", _("Failed sign-in")
    LOGIN_LOCKED = "login_locked", _("Sign-in backed off")
    MFA_ENABLED = "mfa_enabled", _("Two-factor authentication turned on")
    MFA_DISABLED = "mfa_disabled", _("Two-factor authentication turned off")
    DEVICE_TRUSTED = "device_trusted", _("Device trusted")
    TRUSTED_DEVICES_REVOKED = "trusted_devices_revoked", _("Trusted devices revoked")
    FACTOR_ADDED = "factor_added", _("Second factor added")
    FACTOR_REMOVED = "factor_removed", _("Second factor removed")
    KEY_RENAMED = "key_renamed", _("Security key renamed")
    KEY_COUNTER_REGRESSION = "key_counter_regression", _("Security key signature counter went backwards")
    MFA_FAILED = "mfa_failed", _("Wrong code")
    MFA_LOCKED = "mfa_locked", _("Code entry locked")
    REAUTHENTICATED = "reauthenticated", _("Identity confirmed again")
    RECOVERY_CODE_USED = "recovery_code_used", _("Recovery code used")
    RECOVERY_CODES_REGENERATED = "recovery_codes_regenerated", _("New recovery codes")
    REFRESH_REUSE = "refresh_reuse", _("Refresh token reused")
    SESSION_REVOKED = "session_revoked", _("Session ended")
    SESSIONS_REVOKED = "sessions_revoked", _("Sessions ended")
    MFA_SECRET_UNREADABLE = "mfa_secret_unreadable", _("Authenticator secret unreadable")
    PASSWORD_CHANGED = "password_changed", _("Password changed")
    PASSWORD_RESET_REQUESTED = "password_reset_requested", _("Password reset requested")
    PASSWORD_RESET = "password_reset", _("Password reset")
    PASSWORD_RESET_FAILED = "password_reset_failed", _("Invalid password reset link")


class RevokeReason(models.TextChoices):
    """Why a session ended (``AuthSession.revoke_reason``)."""

    LOGOUT = "logout", _("Signed out")
    LOGOUT_ALL = "logout_all", _("Signed out everywhere")
    REVOKED = "revoked", _("Ended by the user")
    ADMIN = "admin", _("Revoked in the admin")
    ADMIN_COMMAND = "admin_command", _("Ended by a management command")
    REFRESH_REUSE = "refresh_reuse", _("Refresh token reused")
    PASSWORD_CHANGED = "password_changed", _("Password changed")
    PASSWORD_RESET = "password_reset", _("Password reset")
    USER_DEACTIVATED = "user_deactivated", _("Account deactivated")
    MFA_ENABLED = "mfa_enabled", _("Two-factor authentication turned on")
    MFA_DISABLED = "mfa_disabled", _("Two-factor authentication turned off")
    MFA_RESET = "mfa_reset", _("Two-factor authentication reset by an admin")


class MFAAccount(models.Model):
    """A user's MFA state that belongs to the account, not to one factor.

    - the per-account code lockout, which covers every second-factor attempt (TOTP, recovery codes,
      security keys) whatever the endpoint;
    - the number of unused recovery codes (they belong to the account and are issued with its
      first factor), read on every authenticated request without another query;
    - the WebAuthn user handle: 64 random bytes, the same in every ceremony, never the email or pk.

    Created when a user first starts an enrolment (``mfa.factors.account_of(create=True)``).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mfa_account",
        verbose_name=_("user"),
    )
    # base64url of 64 random bytes (86 characters).
    user_handle = models.CharField(_("WebAuthn user handle"), max_length=128, unique=True, editable=False)
    failure_count = models.PositiveIntegerField(_("consecutive failures"), default=0, editable=False)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True, editable=False)
    recovery_codes_left = models.PositiveSmallIntegerField(
        _("recovery codes left"), default=0, editable=False
    )
    # How many security keys the user has: "has MFA" is answered from this row and the TOTP
    # device, both loaded with the session, so no request needs a query to know it.
    key_count = models.PositiveSmallIntegerField(_("security keys"), default=0, editable=False)
    # The last accepted RFC 6238 time step of the user's TOTP: only later steps are accepted
    # (replay defence). Kept here, with the lockout, so a login's success is one conditional write.
    totp_last_step = models.BigIntegerField(default=0, editable=False)
    # When a second factor of any kind last succeeded.
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("MFA account")
        verbose_name_plural = _("MFA accounts")

    def __str__(self) -> str:
        return f"MFA account of {self.user_id}"


class TOTPDevice(models.Model):
    """A user's authenticator-app secret, pending until a first correct code confirms it. One per
    user; the lockout, the recovery codes and the last accepted time step are the account's
    (MFAAccount)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mfa_device",
        verbose_name=_("user"),
    )
    encrypted_secret = models.TextField(editable=False)
    confirmed = models.BooleanField(_("confirmed"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    # When the current (pending) enrolment started.
    setup_at = models.DateTimeField(_("enrolment started"), default=timezone.now, editable=False)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("TOTP device")
        verbose_name_plural = _("TOTP devices")

    def __str__(self) -> str:
        return f"TOTP device of {self.user}"


class WebAuthnCredential(models.Model):
    """A security key or passkey registered to a user (WebAuthn). Any number per user."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mfa_webauthn_credentials",
        verbose_name=_("user"),
    )
    # base64url of the credential id, and its SHA-256 (hex) for the unique, indexed lookup.
    credential_id = models.TextField(editable=False)
    credential_id_hash = models.CharField(max_length=64, unique=True, editable=False)
    public_key = models.TextField(editable=False)  # base64url of the COSE key
    sign_count = models.BigIntegerField(default=0, editable=False)
    transports = models.JSONField(default=list, blank=True, editable=False)
    aaguid = models.CharField(max_length=36, blank=True, default="", editable=False)
    backup_eligible = models.BooleanField(_("backup eligible"), default=False, editable=False)
    backed_up = models.BooleanField(_("backed up"), default=False, editable=False)
    # Registered as a passkey (resident key and user verification required).
    passkey = models.BooleanField(_("passkey"), default=False, editable=False)
    # Whether the authenticator stored it as a discoverable credential (credProps.rk, or a passkey).
    discoverable = models.BooleanField(_("discoverable"), default=False, editable=False)
    name = models.CharField(_("name"), max_length=64)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("security key")
        verbose_name_plural = _("security keys")
        indexes = [models.Index(fields=["user", "created_at"], name="mfa_webauthn_user")]

    def __str__(self) -> str:
        return f"{self.name} ({self.user_id})"


class TrustedDevice(models.Model):
    """A device (browser or app) a user chose to trust after a second factor: its logins skip the
    second factor until ``expires_at``. Only a keyed hash of its 256-bit token is stored; it is
    bound to the password and the set of factors it was trusted under (a change of either ends it).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mfa_trusted_devices",
        verbose_name=_("user"),
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=100)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=512, blank=True, default="")
    created_at = models.DateTimeField(_("trusted at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    # Absolute end (MFA["TRUST_DAYS"] after the second factor that trusted it); never extended.
    expires_at = models.DateTimeField(_("expires"))
    second_factor_at = models.DateTimeField(_("second factor given at"))
    password_fingerprint = models.CharField(max_length=64, editable=False)
    factors_fingerprint = models.CharField(max_length=64, editable=False)

    class Meta:
        verbose_name = _("trusted device")
        verbose_name_plural = _("trusted devices")
        indexes = [
            models.Index(fields=["user", "created_at"], name="mfa_trusted_user"),
            ExpiringIndex(fields=["expires_at"], name="mfa_trusted_ttl"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.user_id})"


class CeremonyKind(models.TextChoices):
    REGISTER = "register", _("Register a key")
    MFA_LOGIN = "mfa-login", _("Second factor at sign-in")
    REAUTHENTICATE = "reauthenticate", _("Re-authentication")
    PASSKEY_LOGIN = "passkey-login", _("Sign-in with a passkey")


class WebAuthnCeremony(models.Model):
    """A WebAuthn challenge kept on the server: single use (consumed by one conditional write
    before verification), expiring, of one kind, bound to what started it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=20, choices=CeremonyKind.choices)
    challenge = models.CharField(max_length=128)  # base64url
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # What the ceremony is bound to besides the user: the mfa_token's jti (mfa-login) or the
    # session id (reauthenticate); empty for register (the user) and passkey login (nothing).
    binding = models.CharField(max_length=64, blank=True, default="")
    passkey = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [ExpiringIndex(fields=["expires_at"], name="mfa_ceremony_ttl")]


class RecoveryCode(models.Model):
    """One single-use recovery code, stored as a keyed lookup tag and a salted password hash."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mfa_recovery_codes",
        verbose_name=_("user"),
    )
    # HMAC of the normalised code under a server key: finds the one row a guess could match.
    lookup = models.CharField(max_length=64, editable=False)
    code_hash = models.CharField(max_length=256, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("recovery code")
        verbose_name_plural = _("recovery codes")
        indexes = [models.Index(fields=["user", "lookup"], name="mfa_rcode_user_lookup")]


def _liveness_cutoffs(now: datetime) -> tuple[datetime, datetime]:
    """(expires after, last used after): a session is live while it is not revoked, its absolute
    end is after ``now`` and it was used within the idle timeout. The one statement of the rule,
    read by the queryset and the instance check alike."""
    return now, now - mfa_settings.SESSION_IDLE_TIMEOUT


class AuthSessionQuerySet(models.QuerySet):
    def live(self, now: datetime) -> AuthSessionQuerySet:
        """Sessions that can still be used (not revoked, not expired, not idle)."""
        expires_after, used_after = _liveness_cutoffs(now)
        return self.filter(revoked_at=None, expires_at__gt=expires_after, last_used_at__gt=used_after)

    def expired(self, now: datetime) -> AuthSessionQuerySet:
        """Sessions past their absolute end or idle timeout, revoked or not (``mfa_purge``)."""
        expires_after, used_after = _liveness_cutoffs(now)
        return self.filter(
            models.Q(expires_at__lte=expires_after) | models.Q(last_used_at__lte=used_after)
        )


class AuthSession(models.Model):
    """A signed-in device: one refresh-token family, revocable, with absolute and idle limits."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="auth_sessions",
        verbose_name=_("user"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), default=timezone.now)
    # Absolute end of the session; rotation never moves it (RFC 9700 4.14.2, NIST 800-63B 2.2.3).
    expires_at = models.DateTimeField(_("expires"))
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=512, blank=True, default="")
    # RFC 8176 authentication methods, space separated ("pwd", "pwd otp", "pwd otp rcode").
    amr = models.CharField(_("authentication methods"), max_length=64)
    auth_time = models.DateTimeField(_("authenticated at"), default=timezone.now)
    # When a second factor was last given in this session (the login's, or a later
    # re-authentication with a code); empty for a password-only session. Step-up reads it.
    second_factor_at = models.DateTimeField(_("second factor given at"), null=True, blank=True)
    # jti of the only refresh token of this session that may still be exchanged.
    refresh_jti = models.CharField(max_length=64)
    # jti of the mfa_token this login completed: the unique index makes each mfa_token single use
    # (the "used mfa_token ids" record; rows outlive the 5-minute token by far).
    mfa_jti = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    # The trusted device whose login, or whose trusting login, started this session.
    trusted_device = models.ForeignKey(
        "TrustedDevice", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        editable=False,
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoke_reason = models.CharField(
        _("revoke reason"), max_length=32, blank=True, default="", choices=RevokeReason.choices
    )

    objects = AuthSessionQuerySet.as_manager()

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        indexes = [
            models.Index(fields=["user", "revoked_at"], name="mfa_session_user_live"),
            ExpiringIndex(fields=["expires_at"], name="mfa_session_ttl"),
        ]

    def __str__(self) -> str:
        return f"session {self.pk} of {self.user_id}"

    @property
    def amr_list(self) -> list[str]:
        return self.amr.split()

    def is_live(self, now: datetime) -> bool:
        """The queryset's ``live(now)`` rule for this one row (the user's state is not part of it)."""
        expires_after, used_after = _liveness_cutoffs(now)
        return self.revoked_at is None and self.expires_at > expires_after and self.last_used_at > used_after


class PasswordBackoff(models.Model):
    """The wrong-password streak of one login identifier (mfa.password_lockout).

    Kept in the database, not the cache: counted with atomic increments on every backend, and its
    expiry is a column, so no cache backend can shorten it. ``key`` is a keyed hash of the
    identifier as authentication normalises it: the table holds no email address or username.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    key = models.CharField(max_length=64, unique=True, editable=False)
    failures = models.PositiveIntegerField(_("consecutive failures"), default=0)
    started_at = models.DateTimeField(_("first failure"), default=timezone.now)
    # Wrong or right, passwords are refused until then.
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)
    # The streak is forgotten after this (a day after it started); MongoDB deletes the row then.
    expires_at = models.DateTimeField(_("expires"))

    class Meta:
        verbose_name = _("password backoff")
        verbose_name_plural = _("password backoffs")
        indexes = [ExpiringIndex(fields=["expires_at"], name="mfa_pwbackoff_ttl")]

    def __str__(self) -> str:
        return f"password backoff {self.key[:8]}"


class SecurityEvent(models.Model):
    """A persistent audit record of one security event. Never holds a secret, code or token."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="mfa_security_events",
        verbose_name=_("user"),
    )
    type = models.CharField(_("type"), max_length=40, choices=EventType.choices)
    created_at = models.DateTimeField(_("time"), default=timezone.now)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=512, blank=True, default="")
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("security event")
        verbose_name_plural = _("security events")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="mfa_event_user_time")]

    def __str__(self) -> str:
        return f"{self.type} {self.created_at:%Y-%m-%d %H:%M:%S}"
