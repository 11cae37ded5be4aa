from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import views as account_views
from accounts.views import RegisterView
from authsite import views

# Benchmark builds only (BENCH_ENDPOINTS=1, see authsite.bench_views and bench/).
bench_urls = []
if getattr(settings, "BENCH_ENDPOINTS", False):
    from authsite import bench_views

    bench_urls = [
        path("api/bench/ping", bench_views.ping),
        path("api/bench/row/<str:pk>", bench_views.RowView.as_view()),
    ]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="mfa_pages:home", permanent=False)),
    # Before mfa's pages: authsite's own sign-up page shares their address space.
    path("account/signup/", account_views.signup, name="signup"),
    path("account/", include("mfa.pages_urls")),
    path("admin/", admin.site.urls),
    re_path(r"^api/auth/register/?$", RegisterView.as_view(), name="register"),
    path("api/auth/", include("mfa.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    *bench_urls,
    # Anything else under /api/ is a JSON 404, also with DEBUG on (no HTML technical page).
    re_path(r"^api/", views.api_not_found),
]

handler400 = views.handler400
handler403 = views.handler403
handler404 = views.handler404
handler500 = views.handler500
