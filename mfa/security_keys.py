"""Security keys and passkeys (WebAuthn): the use cases. The verification rules are
mfa.methods.webauthn; this module keeps the ceremonies and the credentials and applies the
account's rules (step-up to add a factor, the per-account lockout, events, notifications).

Each ceremony's challenge is stored server-side (WebAuthnCeremony): single use (consumed by one
conditional write before the answer is verified, so a failed attempt uses it up too), expiring
after 5 minutes, of one kind (refused by any other verify call), and bound to what started it:
the user (registration), the mfa_token (second factor at login), the session (re-authentication)
or nothing (passkey login). No HTTP here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from mfa import factors, flows, lockout, sessions, tokens
from mfa.adapter import get_adapter
from mfa.conf import mfa_settings
from mfa.db import parse_uuid
from mfa.events import ClientInfo, emit
from mfa.exceptions import (
    CounterRegression,
    InvalidCredential,
    KeyNotFound,
    MFANotEnabled,
    PasskeyLoginDisabled,
    WebAuthnNotConfigured,
)
from mfa.factors import Method
from mfa.methods import webauthn
from mfa.models import AuthSession, CeremonyKind, EventType, MFAAccount, WebAuthnCeremony, WebAuthnCredential
from mfa.sessions import TokenPair
from mfa.tokens import AMR


@dataclass(frozen=True)
class Options:
    """What an options call answers: the ceremony's id and the WebAuthn Level 3 JSON options."""

    ceremony_id: str
    public_key: dict


def _rp() -> webauthn.RelyingParty:
    rp = webauthn.relying_party()
    if rp is None:
        raise WebAuthnNotConfigured()
    return rp


def _start(
    kind: CeremonyKind, *, now: datetime, user: Any = None, binding: str = "", passkey: bool = False
) -> tuple[WebAuthnCeremony, bytes]:
    challenge = webauthn.new_challenge()
    ceremony = WebAuthnCeremony.objects.create(
        kind=kind, challenge=webauthn.b64url_encode(challenge), user=user, binding=binding,
        passkey=passkey, created_at=now, expires_at=now + webauthn.CEREMONY_LIFETIME,
    )
    return ceremony, challenge


def _consume(
    ceremony_id: Any, kind: CeremonyKind, *, now: datetime, user: Any = None, binding: str = ""
) -> WebAuthnCeremony:
    """Use up a ceremony (one conditional write) and check it was started for this: its kind,
    its user and its binding. Anything else is InvalidCredential, and the ceremony is spent."""
    pk = parse_uuid(ceremony_id)
    if pk is None:
        raise InvalidCredential("malformed ceremony id")
    if not WebAuthnCeremony.objects.filter(pk=pk, used_at=None, expires_at__gt=now).update(used_at=now):
        raise InvalidCredential("ceremony unknown, used or expired")
    ceremony = WebAuthnCeremony.objects.get(pk=pk)
    if ceremony.kind != kind:
        raise InvalidCredential(f"a {ceremony.kind} ceremony used for {kind}")
    if user is not None and ceremony.user_id != user.pk:
        raise InvalidCredential("another user's ceremony")
    if ceremony.binding != binding:
        raise InvalidCredential("a ceremony started for another login or session")
    return ceremony


def keys_of(user: Any):
    """The user's security keys, oldest first."""
    return WebAuthnCredential.objects.filter(user=user).order_by("created_at")


def _descriptors(user: Any) -> list[tuple[bytes, list[str]]]:
    return [(webauthn.b64url_decode(k.credential_id), list(k.transports or [])) for k in keys_of(user)]


def key_amr(key: WebAuthnCredential, assertion_uv: bool) -> list[str]:
    """``hwk`` for a key that cannot be copied, ``swk`` for a backup-eligible (synced) one, and
    ``pin`` when the key verified its user (a PIN and a biometric cannot be told apart)."""
    amr = [AMR.SOFTWARE_KEY if key.backup_eligible else AMR.HARDWARE_KEY]
    if assertion_uv:
        amr.append(AMR.PIN)
    return [str(m) for m in amr]


# --- Registration ------------------------------------------------------------------------------------


def register_options(user: Any, *, passkey: bool, now: datetime, session: AuthSession | None) -> Options:
    """Start adding a key: a user who already has MFA needs a second factor in ``session``
    within 5 minutes (NIST SP 800-63B 4.1.2.1). The user's keys are excluded."""
    rp = _rp()
    if factors.has_mfa(user):
        flows.require_recent_second_factor(session, now=now)
    account = factors.account_of(user, create=True)
    ceremony, challenge = _start(CeremonyKind.REGISTER, now=now, user=user, passkey=passkey)
    adapter = get_adapter()
    options = webauthn.registration_options(
        rp, challenge=challenge, user_handle=webauthn.b64url_decode(account.user_handle),
        user_name=adapter.get_account_name(user), display_name=adapter.get_account_name(user),
        exclude=_descriptors(user), passkey=passkey,
    )
    return Options(str(ceremony.pk), options)


def register_verify(
    user: Any, ceremony_id: Any, credential: Any, name: str, *, now: datetime, client: ClientInfo,
    session: AuthSession | None, keep_session_id: Any = None,
) -> tuple[WebAuthnCredential, list[str] | None]:
    """Finish adding a key. Returns it and, when it is the account's first factor, the first
    recovery codes (MFA is then on: other sessions end). A credential id already registered to
    anyone is refused."""
    rp = _rp()
    first = not factors.has_mfa(user)
    if not first:
        flows.require_recent_second_factor(session, now=now)
    ceremony = _consume(ceremony_id, CeremonyKind.REGISTER, now=now, user=user)
    new = webauthn.verify_registration(
        rp, credential=credential, challenge=webauthn.b64url_decode(ceremony.challenge),
        passkey=ceremony.passkey,
    )
    account = factors.account_of(user, create=True)
    try:
        key = WebAuthnCredential.objects.create(
            user=user, credential_id=webauthn.b64url_encode(new.credential_id),
            credential_id_hash=webauthn.credential_id_hash(new.credential_id),
            public_key=webauthn.b64url_encode(new.public_key), sign_count=new.sign_count,
            transports=new.transports, aaguid=new.aaguid, backup_eligible=new.backup_eligible,
            backed_up=new.backed_up, passkey=ceremony.passkey, discoverable=new.discoverable,
            name=name.strip()[:64] or _default_name(user), created_at=now,
        )
    except IntegrityError:
        raise InvalidCredential("credential id already registered") from None
    MFAAccount.objects.filter(pk=account.pk).update(key_count=F("key_count") + 1)
    account.key_count += 1
    codes = flows.factor_added(
        user, account, Method.WEBAUTHN, first=first, now=now, client=client,
        keep_session_id=keep_session_id, name=key.name,
    )
    return key, codes


def _default_name(user: Any) -> str:
    return f"Security key {keys_of(user).count() + 1}"


# --- Managing keys ---------------------------------------------------------------------------------


def _key_of(user: Any, key_id: Any) -> WebAuthnCredential:
    pk = parse_uuid(key_id)
    key = WebAuthnCredential.objects.filter(pk=pk, user=user).first() if pk is not None else None
    if key is None:
        raise KeyNotFound()
    return key


def rename_key(user: Any, key_id: Any, name: str, *, client: ClientInfo) -> WebAuthnCredential:
    key = _key_of(user, key_id)
    key.name = name.strip()[:64] or key.name
    WebAuthnCredential.objects.filter(pk=key.pk).update(name=key.name)
    emit(EventType.KEY_RENAMED, user, client, credential_id=str(key.pk), name=key.name)
    get_adapter().notify(user, EventType.KEY_RENAMED)
    return key


def remove_key(
    user: Any, key_id: Any, *, now: datetime, client: ClientInfo, session: AuthSession | None,
    keep_session_id: Any = None,
) -> None:
    """Remove one key after a second factor in ``session`` within 5 minutes; removing the last
    factor turns MFA off (the recovery codes die)."""
    key = _key_of(user, key_id)
    flows.require_recent_second_factor(session, now=now)
    if not WebAuthnCredential.objects.filter(pk=key.pk).delete()[0]:
        raise KeyNotFound()
    MFAAccount.objects.filter(user=user, key_count__gt=0).update(key_count=F("key_count") - 1)
    factors.forget_related_row(user, MFAAccount)
    flows.factor_removed(
        user, Method.WEBAUTHN, now=now, client=client, keep_session_id=keep_session_id, name=key.name
    )


# --- Assertions ------------------------------------------------------------------------------------


def _verify_assertion(
    credential: Any, ceremony: WebAuthnCeremony, *, user: Any, now: datetime, client: ClientInfo,
    require_uv: bool,
) -> tuple[WebAuthnCredential, webauthn.Assertion]:
    """The key that signed ``credential`` (the user's, when ``user`` is given) and its checked
    assertion; the key's sign count and last use are updated. A counter that went backwards is
    an event and a notification, and a refusal."""
    rp = _rp()
    cid = webauthn.credential_id_of(credential)
    key = (
        WebAuthnCredential.objects.select_related("user")
        .filter(credential_id_hash=webauthn.credential_id_hash(cid)).first()
    )
    if key is None or (user is not None and key.user_id != user.pk):
        raise InvalidCredential("unknown key, or another user's")
    try:
        assertion = webauthn.verify_authentication(
            rp, credential=credential, challenge=webauthn.b64url_decode(ceremony.challenge),
            public_key=webauthn.b64url_decode(key.public_key), sign_count=key.sign_count,
            backup_eligible=key.backup_eligible, require_uv=require_uv,
        )
    except CounterRegression as exc:
        emit(EventType.KEY_COUNTER_REGRESSION, key.user, client, credential_id=str(key.pk),
             stored=exc.stored, received=exc.received)
        owner = key.user
        transaction.on_commit(lambda: get_adapter().notify(owner, EventType.KEY_COUNTER_REGRESSION))
        raise
    changes = {"last_used_at": now, "backed_up": assertion.backed_up}
    rows = WebAuthnCredential.objects.filter(pk=key.pk)
    if assertion.new_sign_count:
        # Compare-and-set: of two answers racing with the same counter, one wins.
        rows = rows.filter(sign_count__lt=assertion.new_sign_count)
        changes["sign_count"] = assertion.new_sign_count
    if not rows.update(**changes):
        raise InvalidCredential("a concurrent answer of this key used its counter")
    return key, assertion


def _account_with_keys(user: Any) -> MFAAccount:
    """The user's MFAAccount when it counts a key (no query of the keys); MFANotEnabled otherwise,
    also when the user has no account."""
    account = factors.account_of(user)
    if account is None or account.key_count < 1:
        raise MFANotEnabled()
    return account


def _second_factor(
    user: Any, ceremony_id: Any, credential: Any, kind: CeremonyKind, binding: str, *, now: datetime,
    client: ClientInfo,
) -> list[str]:
    """A key as the second factor: claimed on the account's lockout like every code, the
    ceremony consumed, the assertion checked; the amr of the key on success. Callers run it
    inside ``lockout.counted()`` (a refusal commits its count before it is raised). A user
    without a key: MFANotEnabled."""
    account = _account_with_keys(user)
    lockout.claim_attempt(account, now=now)
    try:
        ceremony = _consume(ceremony_id, kind, now=now, user=user, binding=binding)
        key, assertion = _verify_assertion(
            credential, ceremony, user=user, now=now, client=client, require_uv=False
        )
    except InvalidCredential:
        lockout.record_failure(account, user, now=now, client=client, method=Method.WEBAUTHN)
        raise
    lockout.reset(account)
    return key_amr(key, assertion.user_verified)


def _second_factor_options(user: Any, kind: CeremonyKind, binding: str, *, now: datetime) -> Options:
    """Options for a key as the second factor: allowCredentials are the user's keys, UV preferred."""
    rp = _rp()
    _account_with_keys(user)
    ceremony, challenge = _start(kind, now=now, user=user, binding=binding)
    options = webauthn.authentication_options(
        rp, challenge=challenge, allow=_descriptors(user), user_verification="preferred"
    )
    return Options(str(ceremony.pk), options)


def mfa_login_options(mfa_token: str, *, now: datetime) -> Options:
    """The second factor at login with a key (API): the ceremony is bound to the mfa_token."""
    _rp()  # 503 when keys are off, before the mfa_token is looked at
    user, jti = flows.user_of_mfa_token(mfa_token)
    return _second_factor_options(user, CeremonyKind.MFA_LOGIN, jti, now=now)


def mfa_login_verify(
    mfa_token: str, ceremony_id: Any, credential: Any, *, now: datetime, client: ClientInfo,
    trust_device: bool = False,
) -> TokenPair:
    user, jti = flows.user_of_mfa_token(mfa_token)

    def second_factor() -> list[str]:
        return _second_factor(
            user, ceremony_id, credential, CeremonyKind.MFA_LOGIN, jti, now=now, client=client
        )

    return flows.finish_mfa_login(user, jti, second_factor, now=now, client=client, trust_device=trust_device)


# A browser's unfinished login has no mfa_token: its ceremonies are bound to a random id kept in
# the pending state of its cookie session (mfa.pages.state), prefixed so that it can never equal
# an mfa_token's jti.
BROWSER_BINDING_PREFIX = "browser:"


def _browser_binding(binding: str) -> str:
    if not isinstance(binding, str) or not binding:
        raise InvalidCredential("no pending browser login")
    return BROWSER_BINDING_PREFIX + binding


def browser_login_options(user: Any, binding: str, *, now: datetime) -> Options:
    """The second factor of a browser login with a key, the ceremony bound to ``binding`` (the
    random id of this browser's pending login, so another browser's or an older sign-in's
    ceremony is refused)."""
    return _second_factor_options(user, CeremonyKind.MFA_LOGIN, _browser_binding(binding), now=now)


def browser_login_verify(
    user: Any, binding: str, ceremony_id: Any, credential: Any, *, now: datetime, client: ClientInfo
) -> list[str]:
    """Check a key as the second factor of a browser login; returns the login's ``amr`` (the
    caller completes the cookie login with it). Same rules as mfa_login_verify: the per-account
    lockout, a single-use ceremony of this login, the user's own key."""
    binding = _browser_binding(binding)
    with lockout.counted():  # _second_factor: MFANotEnabled for a user without a key
        factor = _second_factor(
            user, ceremony_id, credential, CeremonyKind.MFA_LOGIN, binding, now=now, client=client
        )
    return tokens.login_amr(AMR.PASSWORD, factor)


def reauthenticate_options(user: Any, session: AuthSession, *, now: datetime) -> Options:
    return _second_factor_options(user, CeremonyKind.REAUTHENTICATE, str(session.pk), now=now)


def reauthenticate_verify(
    user: Any, session: AuthSession, ceremony_id: Any, credential: Any, *, now: datetime,
    client: ClientInfo,
) -> str:
    """Re-authentication with a key: the session's second-factor time is now; a new access token."""
    with lockout.counted():
        factor = _second_factor(
            user, ceremony_id, credential, CeremonyKind.REAUTHENTICATE, str(session.pk), now=now,
            client=client,
        )
    access = sessions.reauthenticate(session, now=now, factor_amr=factor)
    emit(EventType.REAUTHENTICATED, user, client, session_id=str(session.pk), amr=session.amr_list,
         second_factor=True)
    return access


# --- Passkey login ----------------------------------------------------------------------------------


def passkey_login_enabled() -> bool:
    return bool(mfa_settings.PASSKEY_LOGIN)


def passkey_login_options(*, now: datetime) -> Options:
    if not passkey_login_enabled():
        raise PasskeyLoginDisabled()
    rp = _rp()
    ceremony, challenge = _start(CeremonyKind.PASSKEY_LOGIN, now=now)
    options = webauthn.authentication_options(rp, challenge=challenge, allow=[], user_verification="required")
    return Options(str(ceremony.pk), options)


def passkey_login_user(
    ceremony_id: Any, credential: Any, *, now: datetime, client: ClientInfo
) -> tuple[Any, list[str]]:
    """The rules of signing in with a passkey alone, without making a session: returns the user
    and the login's ``amr``. The user is found by the credential, whose ``userHandle`` must be its
    owner's; user verification is required (a key without it is one factor). The API makes tokens
    from the result (passkey_login_verify), the pages a cookie login."""
    if not passkey_login_enabled():
        raise PasskeyLoginDisabled()
    # The spent ceremony and the key's counter commit even when the answer is refused (one
    # transaction on PostgreSQL: lockout.counted).
    with lockout.counted():
        return _passkey_login_user(ceremony_id, credential, now=now, client=client)


def _passkey_login_user(
    ceremony_id: Any, credential: Any, *, now: datetime, client: ClientInfo
) -> tuple[Any, list[str]]:
    ceremony = _consume(ceremony_id, CeremonyKind.PASSKEY_LOGIN, now=now)
    handle = webauthn.user_handle_of(credential)
    if handle is None:
        raise InvalidCredential("no userHandle in a passkey login")
    key, assertion = _verify_assertion(
        credential, ceremony, user=None, now=now, client=client, require_uv=True
    )
    owner = key.user
    account = factors.account_of(owner)
    if account is None or webauthn.b64url_decode(account.user_handle) != handle or not owner.is_active:
        raise InvalidCredential("userHandle is not the key owner's")
    lockout.ensure_not_locked(account, now=now)
    return owner, tokens.login_amr(None, key_amr(key, assertion.user_verified))


def passkey_login_verify(
    ceremony_id: Any, credential: Any, *, now: datetime, client: ClientInfo
) -> TokenPair:
    """Sign in with a passkey alone (API): passkey_login_user's rules, then a session and tokens."""
    if not passkey_login_enabled():
        raise PasskeyLoginDisabled()
    # On PostgreSQL one commit: ceremony, key counter, session row and login event.
    with lockout.counted():
        owner, amr = _passkey_login_user(ceremony_id, credential, now=now, client=client)
        session = sessions.create_session(owner, amr=amr, now=now, client=client)
    return sessions.token_pair(session)
