"""accounts.User: the email is the login, stored normalised and unique regardless of case."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Permission
from django.db import IntegrityError

from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

User = get_user_model()


def test_email_is_stored_stripped_and_lower_case(make_user):
    user = make_user("  Dave.Jones@EXAMPLE.com ")

    assert user.email == "dave.jones@example.com"
    assert User.objects.get(pk=user.pk).email == "dave.jones@example.com"


def test_save_normalises_email_set_directly(make_user):
    user = make_user("erin@example.com")
    user.email = "Erin.NEW@Example.com"
    user.save()

    assert User.objects.get(pk=user.pk).email == "erin.new@example.com"


def test_create_user_with_same_email_in_other_case_raises_integrity_error(make_user):
    make_user("alice@example.com")

    with pytest.raises(IntegrityError):
        User.objects.create_user("ALICE@Example.COM", PASSWORD)

    assert User.objects.count() == 1


def test_model_save_with_same_email_in_other_case_raises_integrity_error(make_user):
    make_user("alice@example.com")

    with pytest.raises(IntegrityError):
        User(email="Alice@EXAMPLE.com").save()

    assert User.objects.count() == 1


def test_create_user_requires_an_email():
    with pytest.raises(ValueError, match="email"):
        User.objects.create_user("", PASSWORD)


def test_create_user_is_not_staff_and_has_no_username():
    user = User.objects.create_user("frank@example.com", PASSWORD)

    assert not user.is_staff and not user.is_superuser and user.is_active
    assert User.USERNAME_FIELD == "email"
    assert not hasattr(user, "username")
    assert user.check_password(PASSWORD)


def test_create_superuser_is_staff_and_superuser():
    admin = User.objects.create_superuser("Root@Example.com", PASSWORD)

    fresh = User.objects.get(pk=admin.pk)
    assert fresh.email == "root@example.com"
    assert fresh.is_staff is True and fresh.is_superuser is True and fresh.is_active is True
    assert fresh.check_password(PASSWORD)
    assert fresh.has_perm("mfa.delete_totpdevice")


def test_create_superuser_cannot_be_made_non_staff():
    admin = User.objects.create_superuser("root2@example.com", PASSWORD, is_staff=False, is_superuser=False)

    assert admin.is_staff and admin.is_superuser


def test_get_by_natural_key_ignores_case_and_spaces(make_user):
    user = make_user("grace@example.com")

    assert User.objects.get_by_natural_key("GRACE@Example.Com").pk == user.pk
    assert User.objects.get_by_natural_key(" grace@example.com ").pk == user.pk
    with pytest.raises(User.DoesNotExist):
        User.objects.get_by_natural_key("grace@example.org")


def test_authenticate_with_mixed_case_email(make_user):
    user = make_user("heidi@example.com")

    assert authenticate(None, email="HEIDI@Example.COM", password=PASSWORD).pk == user.pk
    assert authenticate(None, username="Heidi@example.com", password=PASSWORD).pk == user.pk
    assert authenticate(None, email="HEIDI@Example.COM", password="wrong " + PASSWORD) is None


def test_authenticate_refuses_inactive_user(make_user):
    make_user("ivan@example.com", is_active=False)

    assert authenticate(None, email="ivan@example.com", password=PASSWORD) is None


def test_non_superuser_staff_has_perm_from_user_permissions(make_user):
    """Regression for MONGODB-NOTES defect 1 (nested $project in SecantusDB made has_perm False)."""
    staff = make_user("judy@example.com", is_staff=True)
    perm = Permission.objects.get(content_type__app_label="mfa", codename="view_totpdevice")
    staff.user_permissions.add(perm)

    fresh = User.objects.get(pk=staff.pk)  # no permission cache
    assert fresh.is_superuser is False
    assert fresh.has_perm("mfa.view_totpdevice") is True
    assert fresh.has_perm("mfa.change_totpdevice") is False
    assert "mfa.view_totpdevice" in fresh.get_all_permissions()
    assert fresh.has_module_perms("mfa") is True
