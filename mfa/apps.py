from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MFAConfig(AppConfig):
    name = "mfa"
    verbose_name = _("Multi-factor authentication")
    default_auto_field = "django.db.models.BigAutoField"  # unused: every mfa model has a UUID pk

    def ready(self) -> None:
        from django.apps import apps
        from django.conf import settings
        from django.contrib.auth.signals import user_logged_in, user_logged_out
        from django.db.models.signals import pre_save

        from mfa import checks  # noqa: F401  (registers the system checks)
        from mfa.pages.state import on_user_logged_in, on_user_logged_out, update_last_login_when_complete
        from mfa.receivers import end_sessions_on_deactivation, end_sessions_on_password_change

        user_logged_in.connect(on_user_logged_in, dispatch_uid="mfa.on_user_logged_in")
        # last_login is written when a login completes, not at the password step of an MFA login:
        # Django's own receiver is replaced under its dispatch_uid (so that, whichever app is
        # ready first, only this one is connected), after on_user_logged_in.
        user_logged_in.disconnect(dispatch_uid="update_last_login")
        user_logged_in.connect(update_last_login_when_complete, dispatch_uid="update_last_login")
        user_logged_out.connect(on_user_logged_out, dispatch_uid="mfa.on_user_logged_out")
        if apps.is_installed("django.contrib.admin"):
            from django.contrib import admin

            from mfa.pages.forms import AdminPasswordLoginForm

            # The admin's sign-in goes through the password gate, its per-IP limit and the MFA
            # challenge like every other door (a host's own AdminSite sets login_form itself).
            if admin.site.login_form is None:
                admin.site.login_form = AdminPasswordLoginForm
        pre_save.connect(
            end_sessions_on_password_change,
            sender=settings.AUTH_USER_MODEL,
            dispatch_uid="mfa.end_sessions_on_password_change",
        )
        pre_save.connect(
            end_sessions_on_deactivation,
            sender=settings.AUTH_USER_MODEL,
            dispatch_uid="mfa.end_sessions_on_deactivation",
        )
