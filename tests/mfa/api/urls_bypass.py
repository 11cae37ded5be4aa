"""Test URLconf: authsite's URLs plus simplejwt's own password-only token view (what mfa.E001 forbids)."""

from django.urls import include, path
from rest_framework_simplejwt.views import TokenObtainPairView

urlpatterns = [
    path("", include("authsite.urls")),
    path("api/extra/", include([path("token/", TokenObtainPairView.as_view(), name="token_obtain_pair")])),
]
