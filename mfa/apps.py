from django.apps import AppConfig


class MFAConfig(AppConfig):
    name = "mfa"
    verbose_name = "Multi-factor authentication"
    default_auto_field = "django.db.models.BigAutoField"  # unused: every mfa model has a UUID pk

    def ready(self) -> None:
        from mfa import checks  # noqa: F401  (registers the system checks)
