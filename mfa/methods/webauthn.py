"""WebAuthn (security keys and passkeys): the relying party's rules, as values in and values out.

This module owns what the W3C WebAuthn Level 3 ceremonies check, and nothing that is stored: it
builds the options a browser passes to ``PublicKeyCredential.parseCreationOptionsFromJSON`` /
``parseRequestOptionsFromJSON``, and verifies the object a browser's ``credential.toJSON()``
returns. Challenges, credentials and user handles are kept by the caller (models and flows).

The cryptography and most checks are py_webauthn's (Duo Labs): exact origin, challenge, RP ID
hash, user presence and verification, attestation, signature, and BS without BE. This module adds
what it leaves to the relying party:

- the credential's shape is validated here before the library sees it, so any malformed input
  (wrong types, bad base64url, oversized fields, bad CBOR) ends as InvalidCredential and nothing else;
- ``clientDataJSON.crossOrigin: true`` is refused (WebAuthn L3 7.1 and 7.2, the crossOrigin steps,
  leave it to the RP; this site is never embedded in another origin's iframe for a ceremony);
- a sign count that did not increase (other than 0 to 0) is CounterRegression, raised only after
  the signature verified, so a forged response can never record a "cloned authenticator" event.

The RP ID and origins come from settings (MFA["WEBAUTHN_RP_ID"], MFA["WEBAUTHN_ORIGINS"]), never
from a request's Host header.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import json
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import webauthn as py_webauthn
from django.conf import settings
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticationCredential,
    AuthenticatorAssertionResponse,
    AuthenticatorAttachment,
    AuthenticatorAttestationResponse,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    PublicKeyCredentialType,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from mfa.adapter import get_adapter
from mfa.conf import mfa_settings
from mfa.exceptions import CounterRegression, InvalidCredential

# A ceremony's challenge lives this long (the issue's 5 minutes); the options' ``timeout`` says the same
# to the browser, in milliseconds.
CEREMONY_LIFETIME = timedelta(minutes=5)
TIMEOUT_MS = int(CEREMONY_LIFETIME.total_seconds() * 1000)

# ES256 first (every authenticator has it), then EdDSA, then RS256 (Windows Hello, older TPMs).
ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]

# Origins used when MFA["WEBAUTHN_ORIGINS"] is None and DEBUG is on (runserver's default address).
DEBUG_ORIGINS = ("http://localhost:8000",)

CHALLENGE_BYTES = 32
USER_HANDLE_BYTES = 64  # WebAuthn L3 5.4.3 (user.id): at most 64 bytes

# Upper bounds on each field, in base64url characters, before anything is decoded: generous for real
# authenticators (a TPM attestation with its certificate chain is a few KB), small enough that a
# hostile client cannot make the server parse megabytes.
MAX_CREDENTIAL_ID_BYTES = 1023  # WebAuthn L3 6.1 credentialIdLength: at most 1023
MAX_FIELD_CHARS = {
    "clientDataJSON": 8 * 1024,
    "attestationObject": 64 * 1024,
    "authenticatorData": 8 * 1024,
    "signature": 2 * 1024,
    "userHandle": 128,
}
MAX_TRANSPORTS = 8
_TRANSPORT = re.compile(r"[a-z][a-z0-9-]{0,31}", re.ASCII)
_B64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}", re.ASCII)
_KNOWN_TRANSPORTS = {t.value: t for t in AuthenticatorTransport}
_USER_VERIFICATION = {u.value: u for u in UserVerificationRequirement}


# --- Encoding ------------------------------------------------------------------------------------------


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url (RFC 4648 5), the encoding of every binary field in WebAuthn's JSON."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: Any, *, field: str = "value", max_chars: int | None = None) -> bytes:
    """Strict base64url: a str of the URL-safe alphabet, padding optional. Raises InvalidCredential
    for anything else (Python's decoder alone skips characters outside the alphabet)."""
    if not isinstance(text, str):
        raise InvalidCredential(reason=f"{field} is not a string")
    if max_chars is not None and len(text) > max_chars:
        raise InvalidCredential(reason=f"{field} is longer than {max_chars} characters")
    if not _B64URL.fullmatch(text):
        raise InvalidCredential(reason=f"{field} is not base64url")
    body = text.rstrip("=")
    if len(body) % 4 == 1 or (text != body and len(text) % 4):
        raise InvalidCredential(reason=f"{field} has a base64url length no encoder produces")
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise InvalidCredential(reason=f"{field} is not base64url") from None


# --- Relying party -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RelyingParty:
    """Who this site is to authenticators: the RP ID (a registrable domain the origins are under),
    the name shown by the browser, and the exact origins ceremonies may come from."""

    id: str
    name: str
    origins: tuple[str, ...]


def configured_origins() -> tuple[str, ...] | None:
    """MFA["WEBAUTHN_ORIGINS"] as a tuple (a bare string counts as one origin); None when unset,
    which means DEBUG_ORIGINS with DEBUG on and "not configured" otherwise."""
    origins = mfa_settings.WEBAUTHN_ORIGINS
    if origins is None:
        return DEBUG_ORIGINS if settings.DEBUG else None
    if isinstance(origins, str):
        origins = [origins]
    return tuple(str(o) for o in origins) or None


def relying_party() -> RelyingParty | None:
    """The relying party from settings, or None when no origin is configured (DEBUG off and
    MFA["WEBAUTHN_ORIGINS"] unset): callers then answer 503 ``webauthn_not_configured``
    (raise WebAuthnNotConfigured) and the rest of the site works as before."""
    origins = configured_origins()
    if not origins:
        return None
    name = mfa_settings.WEBAUTHN_RP_NAME or mfa_settings.ISSUER or get_adapter().get_site_name()
    return RelyingParty(id=str(mfa_settings.WEBAUTHN_RP_ID), name=str(name), origins=origins)


def _is_localhost(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)", re.ASCII)
_ANDROID_ORIGIN = re.compile(r"android:apk-key-hash:[A-Za-z0-9_-]{43}", re.ASCII)


def rp_id_problem(rp_id: Any) -> str | None:
    """Why ``rp_id`` cannot be an RP ID (a lower-case host name: no scheme, port or IP address,
    a "valid domain" in the URL Standard's sense), or None."""
    if not isinstance(rp_id, str) or not rp_id:
        return "the RP ID must be a non-empty string"
    try:
        ipaddress.ip_address(rp_id.strip("[]"))
    except ValueError:
        pass
    else:
        return f"the RP ID {rp_id!r} is an IP address; use a host name (localhost in development)"
    labels = rp_id.split(".")
    if len(rp_id) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        return f"the RP ID {rp_id!r} is not a lower-case host name (no scheme, port or path)"
    return None


def origin_problems(rp_id: str, origins: tuple[str, ...] | list[str]) -> list[str]:
    """What is wrong with each origin for ``rp_id`` (empty when all are usable).

    An origin is exactly ``scheme://host[:port]`` as a browser writes it (lower case, no path or
    trailing slash); its host is the RP ID or under it (WebAuthn L3 5.1.3 and 5.1.4: the RP ID is a
    registrable suffix of the origin's effective domain); its scheme is https, or http for
    localhost (a secure context without TLS). ``android:apk-key-hash:...`` origins (an Android app
    tied to the RP ID by Digital Asset Links) are accepted as they are.
    """
    problems = []
    for origin in origins:
        if not isinstance(origin, str):
            problems.append(f"{origin!r} is not a string")
            continue
        if _ANDROID_ORIGIN.fullmatch(origin):
            continue
        try:
            parts = urlsplit(origin)
            host, port = parts.hostname or "", parts.port
        except ValueError:
            problems.append(f"{origin!r} is not an origin")
            continue
        default_port = {"http": 80, "https": 443}.get(parts.scheme)
        canonical = f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default_port) else "")
        if origin != canonical:
            problems.append(f"{origin!r} is not an origin as a browser writes it (try {canonical!r})")
            continue
        if parts.scheme != "https" and not (parts.scheme == "http" and _is_localhost(host)):
            problems.append(f"{origin!r} must use https (plain http only for localhost)")
            continue
        if not isinstance(rp_id, str) or not (host == rp_id or host.endswith("." + rp_id)):
            problems.append(f"the host of {origin!r} is neither the RP ID {rp_id!r} nor under it")
    return problems


# --- Randomness ----------------------------------------------------------------------------------------


def new_challenge() -> bytes:
    """32 random bytes (WebAuthn L3 13.4.3: at least 16)."""
    return secrets.token_bytes(CHALLENGE_BYTES)


def new_user_handle() -> bytes:
    """64 random bytes: an account's user handle, never derived from its email or primary key
    (WebAuthn L3 14.6.1: it must not identify the user to anyone but this site)."""
    return secrets.token_bytes(USER_HANDLE_BYTES)


# --- Options -------------------------------------------------------------------------------------------


def _descriptors(credentials: list[tuple[bytes, list[str]]]) -> list[PublicKeyCredentialDescriptor]:
    """Credential descriptors; transports py_webauthn does not know are left out (they are hints)."""
    return [
        PublicKeyCredentialDescriptor(
            id=bytes(credential_id),
            transports=[_KNOWN_TRANSPORTS[t] for t in transports or [] if t in _KNOWN_TRANSPORTS],
        )
        for credential_id, transports in credentials
    ]


def _as_dict(options: Any) -> dict:
    return json.loads(py_webauthn.options_to_json(options))


def registration_options(
    rp: RelyingParty,
    *,
    challenge: bytes,
    user_handle: bytes,
    user_name: str,
    display_name: str,
    exclude: list[tuple[bytes, list[str]]],
    passkey: bool,
) -> dict:
    """The creation options (``publicKey`` of ``navigator.credentials.create``) in the Level 3 JSON
    form, as a dict. ``exclude`` holds the user's credentials (id, transports), so an authenticator
    that already has one of them refuses to make another.

    A passkey must be discoverable and verify the user (it is the only factor at passkey login,
    NIST SP 800-63B-4 Appendix B); a plain security key is a second factor after the password, so
    UV is only preferred. Attestation "none": this site trusts no authenticator model over another.
    """
    if not 1 <= len(user_handle) <= USER_HANDLE_BYTES:
        raise ValueError("a user handle is 1 to 64 bytes")
    if passkey:
        selection = AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        )
    else:
        selection = AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.PREFERRED,
        )
    options = py_webauthn.generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=bytes(user_handle),
        user_name=user_name,
        user_display_name=display_name or user_name,
        challenge=bytes(challenge),
        timeout=TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=selection,
        exclude_credentials=_descriptors(exclude),
        supported_pub_key_algs=ALGORITHMS,
    )
    result = _as_dict(options)
    # credProps (WebAuthn L3 10.1.3): the browser says whether it made a discoverable credential.
    result["extensions"] = {"credProps": True}
    return result


def authentication_options(
    rp: RelyingParty,
    *,
    challenge: bytes,
    allow: list[tuple[bytes, list[str]]],
    user_verification: str,
) -> dict:
    """The request options (``publicKey`` of ``navigator.credentials.get``) in the Level 3 JSON
    form, as a dict. Passkey login passes ``allow=[]`` (the authenticator offers its discoverable
    credentials) and ``user_verification="required"``; a second factor passes the user's keys and
    "preferred"."""
    if user_verification not in _USER_VERIFICATION:
        raise ValueError(f"user_verification must be one of {sorted(_USER_VERIFICATION)}")
    options = py_webauthn.generate_authentication_options(
        rp_id=rp.id,
        challenge=bytes(challenge),
        timeout=TIMEOUT_MS,
        allow_credentials=_descriptors(allow),
        user_verification=_USER_VERIFICATION[user_verification],
    )
    result = _as_dict(options)
    result.setdefault("allowCredentials", [])
    return result


# --- Reading what the browser sent --------------------------------------------------------------------


def _object(value: Any, field: str) -> dict:
    if not isinstance(value, dict):
        raise InvalidCredential(reason=f"{field} is not a JSON object")
    return value


def _field(container: dict, key: str, *, parent: str = "") -> bytes:
    name = f"{parent}.{key}" if parent else key
    return b64url_decode(container.get(key), field=name, max_chars=MAX_FIELD_CHARS[key])


def credential_id_of(credential: Any) -> bytes:
    """The credential id the browser sent (``rawId``, which must agree with ``id``), for finding the
    stored credential before verifying. Raises InvalidCredential when malformed."""
    credential = _object(credential, "credential")
    limit = (MAX_CREDENTIAL_ID_BYTES * 4 + 2) // 3
    raw_id = b64url_decode(credential.get("rawId"), field="rawId", max_chars=limit)
    id_ = b64url_decode(credential.get("id"), field="id", max_chars=limit)
    if raw_id != id_:
        raise InvalidCredential(reason="id and rawId differ")
    if not 1 <= len(raw_id) <= MAX_CREDENTIAL_ID_BYTES:
        raise InvalidCredential(reason="the credential id is empty or longer than 1023 bytes")
    if credential.get("type") != "public-key":
        raise InvalidCredential(reason='type is not "public-key"')
    return raw_id


def credential_id_hash(credential_id: bytes) -> str:
    """SHA-256 of a credential id, in hex: a fixed-length indexed column for looking one up (ids
    are up to 1023 bytes, too long for some databases' unique indexes)."""
    return hashlib.sha256(bytes(credential_id)).hexdigest()


def user_handle_of(credential: Any) -> bytes | None:
    """``response.userHandle`` of an assertion: the account's user handle, which a discoverable
    credential returns (passkey login finds the user by it); None when absent, null or empty.
    Raises InvalidCredential when malformed."""
    response = _object(_object(credential, "credential").get("response"), "response")
    value = response.get("userHandle")
    if value is None or value == "":
        return None
    handle = _field(response, "userHandle", parent="response")
    if len(handle) > USER_HANDLE_BYTES:
        raise InvalidCredential(reason="userHandle is longer than 64 bytes")
    return handle


def _client_data(client_data_json: bytes) -> dict:
    """clientDataJSON parsed, with what py_webauthn does not check refused here."""
    try:
        data = json.loads(client_data_json.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidCredential(reason="clientDataJSON is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidCredential(reason="clientDataJSON is not a JSON object")
    for key in ("type", "challenge", "origin"):
        if not isinstance(data.get(key), str):
            raise InvalidCredential(reason=f"clientDataJSON.{key} is missing or not a string")
    # WebAuthn L3 7.1 / 7.2 (crossOrigin, topOrigin): crossOrigin true or a topOrigin means an iframe
    # ran the ceremony inside another page; this site never asks for that (no
    # publickey-credentials-* permissions policy).
    if data.get("crossOrigin") not in (None, False):
        raise InvalidCredential(reason="clientDataJSON.crossOrigin is true")
    if "topOrigin" in data:
        raise InvalidCredential(reason="clientDataJSON.topOrigin is present")
    return data


def _attachment(credential: dict) -> AuthenticatorAttachment | None:
    value = credential.get("authenticatorAttachment")
    try:
        return AuthenticatorAttachment(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _transports(response: dict) -> list[str]:
    value = response.get("transports")
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_TRANSPORTS:
        raise InvalidCredential(reason="response.transports is not a short list")
    found: list[str] = []
    for item in value:
        if not isinstance(item, str) or not _TRANSPORT.fullmatch(item):
            raise InvalidCredential(reason="response.transports holds something not a transport name")
        if item not in found:
            found.append(item)
    return found


def _cred_props_rk(credential: dict) -> bool | None:
    results = credential.get("clientExtensionResults")
    if results is None:
        return None
    results = _object(results, "clientExtensionResults")
    props = results.get("credProps")
    if props is None:
        return None
    rk = _object(props, "clientExtensionResults.credProps").get("rk")
    if rk is not None and not isinstance(rk, bool):
        raise InvalidCredential(reason="clientExtensionResults.credProps.rk is not a boolean")
    return rk


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


# --- Registration --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewCredential:
    """A verified new credential, what the caller stores. ``public_key`` is the COSE key as the
    authenticator sent it; ``discoverable`` is true for a passkey registration or when the browser
    reported ``credProps.rk``."""

    credential_id: bytes
    public_key: bytes
    sign_count: int
    transports: list[str]
    aaguid: str
    backup_eligible: bool
    backed_up: bool
    discoverable: bool


def verify_registration(
    rp: RelyingParty, *, credential: Any, challenge: bytes, passkey: bool
) -> NewCredential:
    """Verify the answer to registration_options() (WebAuthn L3 7.1) and return the credential to
    store. The caller checks that the id is not registered to anyone yet.

    Raises InvalidCredential for anything that does not verify or is malformed: wrong origin,
    challenge or RP ID hash, no user presence, no UV for a passkey, crossOrigin true, BS without BE,
    an unsupported algorithm or attestation, or a shape that is not a credential.
    """
    credential_id = credential_id_of(credential)
    response = _object(credential.get("response"), "response")
    client_data_json = _field(response, "clientDataJSON", parent="response")
    attestation_object = _field(response, "attestationObject", parent="response")
    transports = _transports(response)
    rk = _cred_props_rk(credential)
    _client_data(client_data_json)
    parsed = RegistrationCredential(
        id=b64url_encode(credential_id),
        raw_id=credential_id,
        response=AuthenticatorAttestationResponse(
            client_data_json=client_data_json,
            attestation_object=attestation_object,
            transports=[_KNOWN_TRANSPORTS[t] for t in transports if t in _KNOWN_TRANSPORTS],
        ),
        authenticator_attachment=_attachment(credential),
        type=PublicKeyCredentialType.PUBLIC_KEY,
    )
    try:
        verified = py_webauthn.verify_registration_response(
            credential=parsed,
            expected_challenge=bytes(challenge),
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            require_user_presence=True,
            require_user_verification=passkey,
            supported_pub_key_algs=ALGORITHMS,
        )
    except Exception as exc:  # noqa: BLE001 - its parsers raise cbor2, struct, ValueError, KeyError...
        raise InvalidCredential(reason=_reason(exc)) from None
    if verified.credential_id != credential_id:
        raise InvalidCredential(reason="rawId is not the id in the attested credential data")
    return NewCredential(
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=transports,
        aaguid=verified.aaguid,
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backed_up=verified.credential_backed_up,
        discoverable=bool(passkey or rk),
    )


# --- Authentication ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assertion:
    """A verified assertion: the sign count and backup state to store, and whether the user was
    verified (``amr`` "pin"). Whether the key is backup-eligible ("swk" rather than "hwk") is
    known from its registration: WebAuthn L3 6.1.3, BE never changes."""

    new_sign_count: int
    user_verified: bool
    backed_up: bool


def verify_authentication(
    rp: RelyingParty,
    *,
    credential: Any,
    challenge: bytes,
    public_key: bytes,
    sign_count: int,
    backup_eligible: bool,
    require_uv: bool,
) -> Assertion:
    """Verify an assertion (WebAuthn L3 7.2) by the stored credential's ``public_key``,
    ``sign_count`` and ``backup_eligible``. The caller has found the credential by
    credential_id_of() (and, for passkey login, checked user_handle_of() against its owner).

    Raises InvalidCredential when it does not verify or is malformed (wrong origin, challenge, RP
    ID hash or signature, no user presence, no UV when ``require_uv``, crossOrigin true, BS without
    BE, a BE flag other than the registered one);
    CounterRegression (an InvalidCredential) when the signature is good but the sign count did
    not go up, other than 0 to 0, which synced passkeys always send (L3 6.1.1: a possible clone).
    """
    if not isinstance(sign_count, int) or sign_count < 0:
        raise ValueError("sign_count is a stored non-negative integer")
    credential_id = credential_id_of(credential)
    response = _object(credential.get("response"), "response")
    client_data_json = _field(response, "clientDataJSON", parent="response")
    authenticator_data = _field(response, "authenticatorData", parent="response")
    signature = _field(response, "signature", parent="response")
    user_handle = user_handle_of(credential)
    _client_data(client_data_json)
    parsed = AuthenticationCredential(
        id=b64url_encode(credential_id),
        raw_id=credential_id,
        response=AuthenticatorAssertionResponse(
            client_data_json=client_data_json,
            authenticator_data=authenticator_data,
            signature=signature,
            user_handle=user_handle,
        ),
        authenticator_attachment=_attachment(credential),
        type=PublicKeyCredentialType.PUBLIC_KEY,
    )
    try:
        # The stored count is given as 0: py_webauthn compares counts before the signature, and a
        # regression must only be reported for a response the credential really signed.
        verified = py_webauthn.verify_authentication_response(
            credential=parsed,
            expected_challenge=bytes(challenge),
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            credential_public_key=bytes(public_key),
            credential_current_sign_count=0,
            require_user_verification=require_uv,
        )
    except Exception as exc:  # noqa: BLE001 - its parsers raise cbor2, struct, ValueError, KeyError...
        raise InvalidCredential(reason=_reason(exc)) from None
    # WebAuthn L3 7.2: the BE flag is fixed when the credential is made, so it must equal the
    # stored one (the login's amr says "swk" or "hwk" from that stored value).
    if (verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE) != bool(backup_eligible):
        raise InvalidCredential(reason="the BE flag differs from the registered credential's")
    received = verified.new_sign_count
    # WebAuthn L3 7.2, the signCount step: unless both are 0, the count must be greater than the stored one.
    if (received or sign_count) and received <= sign_count:
        raise CounterRegression(stored=sign_count, received=received)
    return Assertion(
        new_sign_count=received,
        user_verified=verified.user_verified,
        backed_up=verified.credential_backed_up,
    )
