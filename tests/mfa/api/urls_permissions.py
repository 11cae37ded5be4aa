"""Test URLconf: authsite's URLs plus two host-site views guarded by the mfa permissions."""

from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView

from mfa.authentication import SessionJWTAuthentication
from mfa.permissions import IsMFAComplete, RecentSecondFactor


class MFACompleteView(APIView):
    authentication_classes = [SessionJWTAuthentication]
    permission_classes = [IsMFAComplete]

    def get(self, request):
        return Response({"ok": True})


class StepUpView(APIView):
    authentication_classes = [SessionJWTAuthentication]
    permission_classes = [RecentSecondFactor.within(300)]

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [
    path("host/mfa-complete", MFACompleteView.as_view()),
    path("host/step-up", StepUpView.as_view()),
    path("", include("authsite.urls")),
]
