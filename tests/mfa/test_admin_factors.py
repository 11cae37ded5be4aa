"""The admin's MFA status lists each user's second factors, and "Reset MFA" removes keys too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from mfa import security_keys, sessions
from mfa.events import ClientInfo
from mfa.models import MFAAccount, RecoveryCode, WebAuthnCredential
from tests.helpers import PASSWORD
from tests.webauthn_authenticator import SoftAuthenticator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("webauthn_on")]

CLIENT = ClientInfo(ip="127.0.0.1", user_agent="tests")
USERS = "/admin/accounts/user/"


@pytest.fixture
def admin_browser(make_user) -> Client:
    admin = make_user("admin@example.com", is_staff=True, is_superuser=True)
    browser = Client()
    r = browser.post("/admin/login/?next=/admin/", {"username": admin.email, "password": PASSWORD})
    assert r.status_code == 302
    return browser


def add_key(user, name: str, *, passkey: bool = False) -> WebAuthnCredential:
    """A key registered through the use case (the first one turns MFA on; a further one is added
    from a session that has just given a key as its second factor)."""
    now = timezone.now()
    session = sessions.create_session(user, amr=["pwd", "hwk", "mfa"], now=now, client=CLIENT)
    options = security_keys.register_options(user, passkey=passkey, now=now, session=session)
    credential = SoftAuthenticator(resident=passkey).create(options.public_key)
    key, _codes = security_keys.register_verify(
        user, options.ceremony_id, credential, name, now=now, client=CLIENT, session=session
    )
    return key


def test_the_user_list_shows_each_factor_with_its_type_name_and_last_use(admin_browser, user_with_mfa):
    user = user_with_mfa.user
    key = WebAuthnCredential.objects.create(
        user=user, credential_id="AAAA", credential_id_hash="0" * 64, public_key="AAAA", name="Blue key",
        last_used_at=timezone.now() - timedelta(days=1),
    )
    MFAAccount.objects.filter(user=user).update(key_count=1)
    WebAuthnCredential.objects.create(
        user=user, credential_id="BBBB", credential_id_hash="1" * 64, public_key="BBBB", name="Phone",
        passkey=True,
    )
    page = admin_browser.get(USERS).content.decode()
    assert "Second factors" in page
    used = timezone.localtime(key.last_used_at).strftime("%Y-%m-%d %H:%M")
    assert "TOTP (last used " in page  # the enrolment code's step
    assert f"Key: Blue key (last used {used})" in page
    assert "Passkey: Phone (never used)" in page
    assert key.credential_id_hash not in page and user_with_mfa.secret not in page


def test_reset_mfa_removes_the_keys(admin_browser, make_user):
    bob = make_user("bob@example.com")
    add_key(bob, "Blue key")
    add_key(bob, "Laptop", passkey=True)
    assert MFAAccount.objects.get(user=bob).key_count == 2 and RecoveryCode.objects.filter(user=bob).count() == 10
    r = admin_browser.post(USERS, {"action": "reset_mfa", "_selected_action": [str(bob.pk)], "post": "yes"})
    assert r.status_code == 302
    assert not WebAuthnCredential.objects.filter(user=bob).exists()
    assert not RecoveryCode.objects.filter(user=bob).exists()
    assert MFAAccount.objects.get(user=bob).key_count == 0
    page = admin_browser.get(USERS).content.decode()
    assert "Blue key" not in page and "Laptop" not in page
