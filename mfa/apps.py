from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MFAConfig(AppConfig):
    name = "mfa"
    verbose_name = _("Multi-factor authentication")
    default_auto_field = "django.db.models.BigAutoField"  # unused: every mfa model has a UUID pk

    def ready(self) -> None:
        from django.conf import settings
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import pre_save

        from mfa import checks  # noqa: F401  (registers the system checks)
        from mfa.pages.state import on_user_logged_in
        from mfa.receivers import end_sessions_on_deactivation, end_sessions_on_password_change

        user_logged_in.connect(on_user_logged_in, dispatch_uid="mfa.on_user_logged_in")
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
