"""A software WebAuthn authenticator and client for tests: it answers the Level 3 JSON options with
what a browser's ``credential.toJSON()`` returns, and can be told to misbehave in each way the
relying party must refuse (other origin or RP ID, counter going back, crossOrigin, topOrigin, BS
without BE, no UV, no userHandle, a credential id already registered).

EC P-256 keys (ES256), attestation "none", one signature counter per credential.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40
AAGUID = bytes(16)  # all zero: "none" attestation tells nothing about the model


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class StoredCredential:
    key: ec.EllipticCurvePrivateKey
    user_handle: bytes | None
    resident: bool
    counter: int = 0


class SoftAuthenticator:
    """One authenticator and its browser. Attributes may be changed between ceremonies: ``origin``
    and ``rp_id`` (what the client and authenticator claim), ``uv``, ``backup_eligible``,
    ``backed_up``, ``cross_origin``, ``top_origin`` (put in clientDataJSON when set); ``counter``
    set to an int makes every answer carry that sign count (``counter=0``: a synced passkey);
    ``omit_user_handle`` drops userHandle from assertions."""

    def __init__(self, rp_id: str = "localhost", origin: str = "http://localhost:8000", *, uv: bool = True,
                 backup_eligible: bool = False, backed_up: bool = False, resident: bool = True) -> None:
        self.rp_id = rp_id
        self.origin = origin
        self.uv = uv
        self.backup_eligible = backup_eligible
        self.backed_up = backed_up
        self.resident = resident
        self.cross_origin = False
        self.top_origin: str | None = None
        self.counter: int | None = None
        self.omit_user_handle = False
        self.credentials: dict[bytes, StoredCredential] = {}

    # --- pieces -------------------------------------------------------------------------------------

    def _flags(self, *, attested: bool) -> int:
        flags = UP | (UV if self.uv else 0) | (BE if self.backup_eligible else 0)
        return flags | (BS if self.backed_up else 0) | (AT if attested else 0)

    def _auth_data(self, counter: int, *, attested: bytes = b"") -> bytes:
        rp_id_hash = hashlib.sha256(self.rp_id.encode()).digest()
        return rp_id_hash + bytes([self._flags(attested=bool(attested))]) + struct.pack(">I", counter) + attested

    def _client_data(self, kind: str, challenge: str) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": self.cross_origin}
        if self.top_origin is not None:
            data["topOrigin"] = self.top_origin
        return json.dumps(data, separators=(",", ":")).encode()

    def _next_counter(self, stored: StoredCredential) -> int:
        if self.counter is not None:
            return self.counter
        stored.counter += 1
        return stored.counter

    @staticmethod
    def cose_key(key: ec.EllipticCurvePrivateKey) -> bytes:
        numbers = key.public_key().public_numbers()
        # COSE_Key (RFC 9053 7.1): kty EC2, alg ES256, crv P-256, x, y
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                            -3: numbers.y.to_bytes(32, "big")})

    # --- ceremonies ---------------------------------------------------------------------------------

    def create(self, public_key_options: dict, *, credential_id: bytes | None = None) -> dict:
        """navigator.credentials.create() then toJSON(): a new credential for the options' user,
        with a random id unless ``credential_id`` is given (an id another credential already has)."""
        key = ec.generate_private_key(ec.SECP256R1())
        credential_id = os.urandom(32) if credential_id is None else credential_id
        user_handle = unb64url(public_key_options["user"]["id"])
        stored = StoredCredential(key=key, user_handle=user_handle, resident=self.resident)
        self.credentials[credential_id] = stored
        attested = AAGUID + struct.pack(">H", len(credential_id)) + credential_id + self.cose_key(key)
        auth_data = self._auth_data(self.counter if self.counter is not None else 0, attested=attested)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", public_key_options["challenge"])
        return {
            "id": b64url(credential_id),
            "rawId": b64url(credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"] if self.resident else ["usb"],
            },
            "clientExtensionResults": {"credProps": {"rk": self.resident}},
            "authenticatorAttachment": "platform" if self.resident else "cross-platform",
        }

    def get(self, public_key_options: dict, *, credential_id: bytes | None = None) -> dict:
        """navigator.credentials.get() then toJSON(): an assertion by ``credential_id``, else by the
        first allowed credential it holds, else (empty allowCredentials) its first resident one."""
        if credential_id is None:
            allowed = [unb64url(c["id"]) for c in public_key_options.get("allowCredentials") or []]
            candidates = [c for c in allowed if c in self.credentials] if allowed else [
                c for c, s in self.credentials.items() if s.resident]
            if not candidates:
                raise LookupError("no credential for these options (NotAllowedError)")
            credential_id = candidates[0]
        stored = self.credentials[credential_id]
        auth_data = self._auth_data(self._next_counter(stored))
        client_data = self._client_data("webauthn.get", public_key_options["challenge"])
        signature = stored.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        response = {
            "clientDataJSON": b64url(client_data),
            "authenticatorData": b64url(auth_data),
            "signature": b64url(signature),
        }
        if stored.resident and stored.user_handle and not self.omit_user_handle:
            response["userHandle"] = b64url(stored.user_handle)
        return {
            "id": b64url(credential_id),
            "rawId": b64url(credential_id),
            "type": "public-key",
            "response": response,
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform" if stored.resident else "cross-platform",
        }
