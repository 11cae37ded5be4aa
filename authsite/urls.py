from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.views import RegisterView
from authsite import views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="mfa_pages:home", permanent=False)),
    path("account/", include("mfa.pages_urls")),
    path("admin/", admin.site.urls),
    re_path(r"^api/auth/register/?$", RegisterView.as_view(), name="register"),
    path("api/auth/", include("mfa.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    # Anything else under /api/ is a JSON 404, also with DEBUG on (no HTML technical page).
    re_path(r"^api/", views.api_not_found),
]

handler400 = views.handler400
handler403 = views.handler403
handler404 = views.handler404
handler500 = views.handler500
