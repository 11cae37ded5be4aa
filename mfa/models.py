"""The mfa app's data: TOTP devices, recovery codes, sessions (with used mfa_token ids), audit events.

Every model has a UUID primary key, so one set of migrations applies on SQLite, PostgreSQL and
MongoDB (the user's own pk may be an int or an ObjectId: code never assumes either). Only field
uniques are used: expression constraints are silently not created on MongoDB.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from mfa.indexes import ExpiringIndex


class TOTPDevice(models.Model):
    """A user's authenticator-app secret, pending until a first correct code confirms it.

    Also carries the user's per-account failure counter and lockout, which cover every code the
    user can be asked for (TOTP and recovery codes), and the number of unused recovery codes so
    authenticating a request needs no extra query.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mfa_device"
    )
    encrypted_secret = models.TextField(editable=False)
    confirmed = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    setup_at = models.DateTimeField(default=timezone.now, editable=False)
    confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The last accepted RFC 6238 time step: only later steps are accepted (replay defence).
    last_step = models.BigIntegerField(default=0, editable=False)
    failure_count = models.PositiveIntegerField(default=0, editable=False)
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    recovery_codes_left = models.PositiveSmallIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = "TOTP device"

    def __str__(self) -> str:
        return f"TOTP device of {self.user}"


class RecoveryCode(models.Model):
    """One single-use recovery code, stored as a keyed lookup tag and a salted password hash."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mfa_recovery_codes"
    )
    # HMAC of the normalised code under a server key: finds the one row a guess could match.
    lookup = models.CharField(max_length=64, editable=False)
    code_hash = models.CharField(max_length=256, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        indexes = [models.Index(fields=["user", "lookup"], name="mfa_rcode_user_lookup")]


class AuthSession(models.Model):
    """A signed-in device: one refresh-token family, revocable, with absolute and idle limits."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="auth_sessions"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(default=timezone.now)
    # Absolute end of the session; rotation never moves it (RFC 9700 4.14.2, NIST 800-63B 2.2.3).
    expires_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    # RFC 8176 authentication methods, space separated ("pwd", "pwd otp", "pwd otp rcode").
    amr = models.CharField(max_length=64)
    auth_time = models.DateTimeField(default=timezone.now)
    # jti of the only refresh token of this session that may still be exchanged.
    refresh_jti = models.CharField(max_length=64)
    # jti of the mfa_token this login completed: the unique index makes each mfa_token single use
    # (the "used mfa_token ids" record; rows outlive the 5-minute token by far).
    mfa_jti = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        verbose_name = "session"
        indexes = [
            models.Index(fields=["user", "revoked_at"], name="mfa_session_user_live"),
            ExpiringIndex(fields=["expires_at"], name="mfa_session_ttl"),
        ]

    def __str__(self) -> str:
        return f"session {self.pk} of {self.user_id}"

    @property
    def amr_list(self) -> list[str]:
        return self.amr.split()


class SecurityEvent(models.Model):
    """A persistent audit record of one security event. Never holds a secret, code or token."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="mfa_security_events",
    )
    type = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="mfa_event_user_time")]

    def __str__(self) -> str:
        return f"{self.type} {self.created_at:%Y-%m-%d %H:%M:%S}"
