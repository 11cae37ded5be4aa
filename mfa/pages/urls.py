"""Browser pages: ``path("account/", include("mfa.pages_urls"))`` (URL names in ``mfa_pages``)."""

from django.urls import path

from mfa.pages import keys, views

app_name = "mfa_pages"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("login/passkey/options/", keys.passkey_options, name="passkey_options"),
    path("login/passkey/verify/", keys.passkey_verify, name="passkey_verify"),
    path("challenge/", views.challenge, name="challenge"),
    path("challenge/key/options/", keys.challenge_options, name="challenge_key_options"),
    path("challenge/key/verify/", keys.challenge_verify, name="challenge_key_verify"),
    path("enrol/", views.enrol, name="enrol"),
    path("recovery-codes/", views.regenerate_codes, name="regenerate"),
    path("disable/", views.disable, name="disable"),
    path("keys/", keys.key_list, name="keys"),
    path("keys/add/options/", keys.register_options, name="key_register_options"),
    path("keys/add/verify/", keys.register_verify, name="key_register_verify"),
    path("keys/recovery-codes/", keys.new_codes, name="new_codes"),
    path("keys/confirm/", keys.confirm_with_code, name="key_confirm_code"),
    path("keys/confirm/options/", keys.confirm_options, name="key_confirm_options"),
    path("keys/confirm/verify/", keys.confirm_verify, name="key_confirm_verify"),
    path("keys/<str:key_id>/rename/", keys.key_rename, name="key_rename"),
    path("keys/<str:key_id>/remove/", keys.key_remove, name="key_remove"),
    path("sessions/", views.session_list, name="sessions"),
    path("sessions/<str:session_id>/end/", views.end_session, name="end_session"),
    path("sessions/end-all/", views.logout_everywhere, name="logout_everywhere"),
    path("trusted-devices/", views.trusted_device_list, name="trusted_devices"),
    path("trusted-devices/forget-all/", views.forget_all_devices, name="forget_all_trusted_devices"),
    path("trusted-devices/<str:device_id>/forget/", views.forget_device, name="forget_trusted_device"),
    path("password/change/", views.password_change, name="password_change"),
    path("password/reset/", views.reset_request, name="password_reset"),
    path("password/reset/sent/", views.reset_done, name="password_reset_done"),
    path("password/reset/<str:uid>/<str:token>/", views.reset_confirm, name="password_reset_confirm"),
]
