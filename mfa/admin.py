"""Django admin: users' MFA status and "Reset MFA", sessions and trusted devices with "Revoke",
the audit log.

No TOTP secret, code hash or token is ever shown or editable: TOTPDevice and RecoveryCode have no
admin of their own, and the user list reads only status fields.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import formats, timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from mfa import factors, flows, sessions, trusted_devices
from mfa.exceptions import SessionNotFound, TrustedDeviceNotFound
from mfa.factors import totp_device_of
from mfa.http import client_info
from mfa.methods.totp import STEP_SECONDS
from mfa.models import (
    AuthSession,
    MFAAccount,
    RevokeReason,
    SecurityEvent,
    TOTPDevice,
    TrustedDevice,
    WebAuthnCredential,
)


class MFAStatusFilter(admin.SimpleListFilter):
    title = _("MFA")
    parameter_name = "mfa"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("on", _("Enabled")), ("off", _("Not enabled"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        enabled = {
            *TOTPDevice.objects.filter(confirmed=True).values_list("user_id", flat=True),
            *MFAAccount.objects.filter(key_count__gt=0).values_list("user_id", flat=True),
        }
        if self.value() == "on":
            return queryset.filter(pk__in=list(enabled))
        if self.value() == "off":
            return queryset.exclude(pk__in=list(enabled))
        return queryset


def _factor_label(label: str, last_used: Any) -> str:
    if last_used is None:
        return gettext("%(factor)s (never used)") % {"factor": label}
    when = formats.date_format(timezone.localtime(last_used), "Y-m-d H:i")
    return gettext("%(factor)s (last used %(when)s)") % {"factor": label, "when": when}


class MFAUserAdminMixin:
    """Add to your UserAdmin: MFA status columns, a filter, and the "Reset MFA" action.

    ``class UserAdmin(MFAUserAdminMixin, django.contrib.auth.admin.UserAdmin): ...``
    """

    mfa_list_display = (
        "mfa_enabled", "mfa_factors", "mfa_enabled_at", "mfa_last_used_at", "mfa_recovery_codes_left",
    )

    def get_list_display(self, request: HttpRequest) -> Any:
        return (*super().get_list_display(request), *self.mfa_list_display)  # type: ignore[misc]

    def get_list_filter(self, request: HttpRequest) -> Any:
        return (*super().get_list_filter(request), MFAStatusFilter)  # type: ignore[misc]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        keys = WebAuthnCredential.objects.order_by("created_at").only(
            "user_id", "name", "passkey", "created_at", "last_used_at"
        )
        return super().get_queryset(request).select_related(  # type: ignore[misc]
            "mfa_device", "mfa_account"
        ).prefetch_related(Prefetch("mfa_webauthn_credentials", queryset=keys))

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)  # type: ignore[misc]
        if request.user.has_perm("mfa.delete_totpdevice") or request.user.is_superuser:
            actions["reset_mfa"] = (MFAUserAdminMixin.reset_mfa, "reset_mfa", _("Reset MFA"))
        return actions

    @admin.display(boolean=True, description=_("MFA"))
    def mfa_enabled(self, user: Any) -> bool:
        return factors.has_mfa(user)

    @admin.display(description=_("Second factors"))
    def mfa_factors(self, user: Any) -> str:
        """Each confirmed factor with its type, name and last use, e.g. "TOTP (last used
        2025-01-31 09:12), Key: Blue key (never used)". TOTP's last use is the start of the last
        accepted time step (the account keeps the step, not the time)."""
        parts = []
        device = totp_device_of(user)
        if device is not None and device.confirmed:
            account = factors.account_of(user)
            step = account.totp_last_step if account is not None else 0
            used = datetime.fromtimestamp(step * STEP_SECONDS, tz=UTC) if step else None
            parts.append(_factor_label(gettext("TOTP"), used))
        for key in user.mfa_webauthn_credentials.all():
            kind = gettext("Passkey") if key.passkey else gettext("Key")
            parts.append(_factor_label(f"{kind}: {key.name}", key.last_used_at))
        return ", ".join(parts) or "-"

    @admin.display(description=_("MFA enabled at"))
    def mfa_enabled_at(self, user: Any) -> Any:
        device = totp_device_of(user)
        return device.confirmed_at if device and device.confirmed else None

    @admin.display(description=_("MFA last used"))
    def mfa_last_used_at(self, user: Any) -> Any:
        account = factors.account_of(user)
        return account.last_used_at if account is not None and factors.has_mfa(user) else None

    @admin.display(description=_("Recovery codes left"))
    def mfa_recovery_codes_left(self, user: Any) -> Any:
        account = factors.account_of(user)
        return account.recovery_codes_left if account is not None and factors.has_mfa(user) else None

    def reset_mfa(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """Remove the selected users' second factors (TOTP device, security keys and passkeys) and
        recovery codes and end their sessions, after a confirmation page. Recorded in the admin
        log and as the mfa_disabled signal."""
        if request.POST.get("post") == "yes":
            now = timezone.now()
            client = client_info(request)
            count = 0
            for user in queryset:
                flows.remove_mfa(user, now=now, client=client, by_admin=True)
                self.log_change(  # type: ignore[attr-defined]
                    request, user,
                    "Reset MFA: removed TOTP device, security keys and recovery codes, ended sessions.",
                )
                count += 1
            self.message_user(  # type: ignore[attr-defined]
                request,
                ngettext("MFA was reset for %(count)d user.", "MFA was reset for %(count)d users.", count)
                % {"count": count},
                messages.SUCCESS,
            )
            return None
        opts = self.model._meta  # type: ignore[attr-defined]
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "title": gettext("Reset MFA?"),
            "queryset": queryset,
            "opts": opts,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,  # type: ignore[attr-defined]
        }
        return TemplateResponse(request, "admin/mfa/reset_mfa_confirmation.html", context)


@admin.register(AuthSession)
class AuthSessionAdmin(admin.ModelAdmin):
    list_display = (
        "user", "created_at", "last_used_at", "expires_at", "ip", "short_agent", "amr",
        "revoked_at", "revoke_reason",
    )
    list_filter = ("revoke_reason",)
    list_select_related = ("user",)
    search_fields = ("ip",)
    ordering = ("-last_used_at",)
    readonly_fields = (
        "user", "created_at", "last_used_at", "expires_at", "ip", "user_agent", "amr",
        "auth_time", "revoked_at", "revoke_reason",
    )
    exclude = ("refresh_jti",)
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("User agent"))
    def short_agent(self, session: AuthSession) -> str:
        return session.user_agent[:60]

    @admin.action(description=_("Revoke selected sessions"), permissions=["delete"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        now, client, count = timezone.now(), client_info(request), 0
        for row in queryset.filter(revoked_at=None).select_related("user"):
            try:
                sessions.revoke_session(
                    row.user, str(row.pk), now=now, client=client, reason=RevokeReason.ADMIN
                )
            except SessionNotFound:  # ended meanwhile
                continue
            self.log_change(request, row, "Revoked session.")
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d session revoked.", "%(count)d sessions revoked.", count) % {"count": count},
            messages.SUCCESS,
        )


@admin.register(TrustedDevice)
class TrustedDeviceAdmin(admin.ModelAdmin):
    """Read-only: the token's hash and the fingerprints are never shown. "Revoke" forgets the
    selected devices through mfa.trusted_devices (an event each) and records it in the admin log."""

    list_display = ("user", "name", "created_at", "last_used_at", "expires_at", "ip")
    list_select_related = ("user",)
    search_fields = ("user__email", "ip")
    ordering = ("-created_at",)
    fields = readonly_fields = (
        "user", "name", "ip", "user_agent", "created_at", "last_used_at", "expires_at", "second_factor_at",
    )
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # deleting goes through "Revoke" (the event, the log)
        return actions

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The action's permission; the delete view is not offered (the action's event and log).
        return obj is None and super().has_delete_permission(request, obj)

    @admin.action(description=_("Revoke selected trusted devices"), permissions=["delete"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        client, revoked = client_info(request), []
        for device in queryset.select_related("user"):
            try:
                trusted_devices.revoke(device.user, str(device.pk), client=client)
            except TrustedDeviceNotFound:  # forgotten meanwhile
                continue
            revoked.append(device)  # still has its pk and name for the log
        if revoked:
            self.log_deletions(request, revoked)
        self.message_user(
            request,
            ngettext("%(count)d trusted device revoked.", "%(count)d trusted devices revoked.", len(revoked))
            % {"count": len(revoked)},
            messages.SUCCESS,
        )


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "type", "user", "ip")
    list_filter = ("type",)
    list_select_related = ("user",)
    ordering = ("-created_at",)
    readonly_fields = ("type", "user", "created_at", "ip", "user_agent", "details")

    # The audit log is read-only for everyone, superusers included: no add, change or delete
    # (retention is a rule the site applies in bulk, not an edit made row by row in the admin).
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
