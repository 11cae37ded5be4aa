"""Browser pages: ``path("account/", include("mfa.pages_urls"))`` (URL names in ``mfa_pages``)."""

from django.urls import path

from mfa.pages import views

app_name = "mfa_pages"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("challenge/", views.challenge, name="challenge"),
    path("enrol/", views.enrol, name="enrol"),
    path("recovery-codes/", views.regenerate_codes, name="regenerate"),
    path("disable/", views.disable, name="disable"),
    path("sessions/", views.session_list, name="sessions"),
    path("sessions/<str:session_id>/end/", views.end_session, name="end_session"),
    path("password/change/", views.password_change, name="password_change"),
    path("password/reset/", views.reset_request, name="password_reset"),
    path("password/reset/sent/", views.reset_done, name="password_reset_done"),
    path("password/reset/<str:uid>/<str:token>/", views.reset_confirm, name="password_reset_confirm"),
]
