"""The documented URL paths, written out literally once.

Every other test builds its URLs with ``reverse()``, so a changed path would pass there unnoticed;
here each URL name must still reverse to the path README.md and docs/ document, resolve back to
it, and (the API paths) also answer with a trailing slash.
"""

from __future__ import annotations

import pytest
from django.urls import get_resolver, resolve, reverse

SESSION_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"

# (URL name, kwargs, documented path)
PATHS = [
    ("mfa:auth-login", {}, "/api/auth/login"),
    ("mfa:auth-refresh", {}, "/api/auth/token/refresh"),
    ("mfa:auth-me", {}, "/api/auth/me"),
    ("mfa:auth-logout", {}, "/api/auth/logout"),
    ("mfa:auth-logout-all", {}, "/api/auth/logout/all"),
    ("mfa:auth-reauthenticate", {}, "/api/auth/reauthenticate"),
    ("mfa:mfa-setup", {}, "/api/auth/mfa/setup"),
    ("mfa:mfa-verify", {}, "/api/auth/mfa/verify"),
    ("mfa:mfa-login-verify", {}, "/api/auth/mfa/login/verify"),
    ("mfa:mfa-disable", {}, "/api/auth/mfa/disable"),
    ("mfa:mfa-totp", {}, "/api/auth/mfa/totp"),
    ("mfa:trusted-devices-list", {}, "/api/auth/mfa/trusted-devices"),
    ("mfa:trusted-devices-detail", {"pk": SESSION_ID}, f"/api/auth/mfa/trusted-devices/{SESSION_ID}"),
    ("mfa:mfa-recovery-codes", {}, "/api/auth/mfa/recovery-codes"),
    ("mfa:mfa-events", {}, "/api/auth/mfa/events"),
    ("mfa:sessions-list", {}, "/api/auth/sessions"),
    ("mfa:sessions-detail", {"pk": SESSION_ID}, f"/api/auth/sessions/{SESSION_ID}"),
    ("mfa:password-change", {}, "/api/auth/password/change"),
    ("mfa:webauthn-register-options", {}, "/api/auth/webauthn/register/options"),
    ("mfa:webauthn-register-verify", {}, "/api/auth/webauthn/register/verify"),
    ("mfa:webauthn-credentials-list", {}, "/api/auth/webauthn/credentials"),
    ("mfa:webauthn-credentials-detail", {"pk": SESSION_ID}, f"/api/auth/webauthn/credentials/{SESSION_ID}"),
    ("mfa:mfa-login-webauthn-options", {}, "/api/auth/mfa/login/webauthn/options"),
    ("mfa:mfa-login-webauthn-verify", {}, "/api/auth/mfa/login/webauthn/verify"),
    ("mfa:auth-reauthenticate-webauthn-options", {}, "/api/auth/reauthenticate/webauthn/options"),
    ("mfa:auth-reauthenticate-webauthn-verify", {}, "/api/auth/reauthenticate/webauthn/verify"),
    ("mfa:passkey-login-options", {}, "/api/auth/passkey/login/options"),
    ("mfa:passkey-login-verify", {}, "/api/auth/passkey/login/verify"),
    ("mfa:password-reset", {}, "/api/auth/password/reset"),
    ("mfa:password-reset-confirm", {}, "/api/auth/password/reset/confirm"),
    ("register", {}, "/api/auth/register"),
    ("signup", {}, "/account/signup/"),
    ("schema", {}, "/api/schema/"),
    ("swagger-ui", {}, "/api/docs/"),
    ("mfa_pages:home", {}, "/account/"),
    ("mfa_pages:login", {}, "/account/login/"),
    ("mfa_pages:logout", {}, "/account/logout/"),
    ("mfa_pages:challenge", {}, "/account/challenge/"),
    ("mfa_pages:enrol", {}, "/account/enrol/"),
    ("mfa_pages:regenerate", {}, "/account/recovery-codes/"),
    ("mfa_pages:disable", {}, "/account/disable/"),
    ("mfa_pages:sessions", {}, "/account/sessions/"),
    ("mfa_pages:logout_everywhere", {}, "/account/sessions/end-all/"),
    ("mfa_pages:trusted_devices", {}, "/account/trusted-devices/"),
    ("mfa_pages:forget_all_trusted_devices", {}, "/account/trusted-devices/forget-all/"),
    ("mfa_pages:forget_trusted_device", {"device_id": SESSION_ID}, f"/account/trusted-devices/{SESSION_ID}/forget/"),
    ("mfa_pages:end_session", {"session_id": SESSION_ID}, f"/account/sessions/{SESSION_ID}/end/"),
    ("mfa_pages:password_change", {}, "/account/password/change/"),
    ("mfa_pages:password_reset", {}, "/account/password/reset/"),
    ("mfa_pages:password_reset_done", {}, "/account/password/reset/sent/"),
    ("mfa_pages:password_reset_confirm", {"uid": "MQ", "token": "cv4k2-0a1b2c3d4e5f"},
     "/account/password/reset/MQ/cv4k2-0a1b2c3d4e5f/"),
    ("mfa_pages:passkey_options", {}, "/account/login/passkey/options/"),
    ("mfa_pages:passkey_verify", {}, "/account/login/passkey/verify/"),
    ("mfa_pages:challenge_key_options", {}, "/account/challenge/key/options/"),
    ("mfa_pages:challenge_key_verify", {}, "/account/challenge/key/verify/"),
    ("mfa_pages:keys", {}, "/account/keys/"),
    ("mfa_pages:key_register_options", {}, "/account/keys/add/options/"),
    ("mfa_pages:key_register_verify", {}, "/account/keys/add/verify/"),
    ("mfa_pages:new_codes", {}, "/account/keys/recovery-codes/"),
    ("mfa_pages:key_confirm_code", {}, "/account/keys/confirm/"),
    ("mfa_pages:key_confirm_options", {}, "/account/keys/confirm/options/"),
    ("mfa_pages:key_confirm_verify", {}, "/account/keys/confirm/verify/"),
    ("mfa_pages:key_rename", {"key_id": SESSION_ID}, f"/account/keys/{SESSION_ID}/rename/"),
    ("mfa_pages:key_remove", {"key_id": SESSION_ID}, f"/account/keys/{SESSION_ID}/remove/"),
]
# The API's paths take no trailing slash and tolerate one (mfa.urls).
WITHOUT_SLASH = [entry for entry in PATHS if not entry[2].endswith("/")]


@pytest.mark.parametrize(("name", "kwargs", "path"), PATHS, ids=[entry[0] for entry in PATHS])
def test_url_name_reverses_to_its_documented_path(name, kwargs, path):
    assert reverse(name, kwargs=kwargs) == path
    match = resolve(path)
    assert match.view_name == name
    assert match.kwargs == kwargs


@pytest.mark.parametrize(("name", "kwargs", "path"), WITHOUT_SLASH, ids=[entry[0] for entry in WITHOUT_SLASH])
def test_api_path_also_resolves_with_a_trailing_slash(name, kwargs, path):
    bare, slashed = resolve(path), resolve(path + "/")
    assert slashed.view_name == bare.view_name == name
    assert slashed.func is bare.func
    assert slashed.kwargs == bare.kwargs == kwargs


def test_every_named_route_of_the_mfa_urlconfs_is_pinned_here():
    resolver = get_resolver()
    named = set()
    for namespace in ("mfa", "mfa_pages"):
        _, sub = resolver.namespace_dict[namespace]
        named |= {f"{namespace}:{key}" for key in sub.reverse_dict if isinstance(key, str)}
    assert named == {name for name, _, _ in PATHS if ":" in name}
