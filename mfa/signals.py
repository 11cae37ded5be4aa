"""One signal per kind of security event. Sent by mfa.events.emit after the change is stored.

Every signal is sent with ``sender`` (the user model class), ``user``, ``ip`` and ``user_agent``
(either may be None), plus keyword arguments that mfa.events.EVENTS lists for each event type and
docs/using-mfa.md ("Signals") documents; a test holds the two together. None ever carries a
secret, code or token.
"""

from django.dispatch import Signal

# TOTP confirmed and turned on.
mfa_enabled = Signal()
# A user trusted the device they gave a second factor on. Args: device_id, name.
device_trusted = Signal()
# Trusted devices were forgotten. Args: count, reason ("revoked", "revoked_all", "logout_all",
# "password_changed", "factors_changed", "mfa_disabled", "refresh_reuse").
trusted_devices_revoked = Signal()
# A further second factor was added to an account that already had MFA on. Args: method ("totp" or
# "webauthn"), name (a security key's name; empty for TOTP).
factor_added = Signal()
# One second factor was removed and others remain (removing the last one sends mfa_disabled).
# Args: method, name.
factor_removed = Signal()
# A security key was renamed. Args: credential_id (mfa's id of the key), name (the new one).
key_renamed = Signal()
# A security key answered with a signature counter lower than the stored one: it may have been
# cloned; the answer was refused. Args: credential_id, stored, received.
key_counter_regression = Signal()
# MFA turned off (by the user or an admin reset). Args: by_admin.
mfa_disabled = Signal()
# A wrong second factor. Args: method ("totp", "recovery_code" or "webauthn"), failure_count.
mfa_failed = Signal()
# The per-user code lockout started or grew. Args: retry_after (seconds).
mfa_locked = Signal()
# A recovery code was used. Args: remaining.
recovery_code_used = Signal()
# New recovery codes replaced the old ones.
recovery_codes_regenerated = Signal()
# A login completed and a session started. Args: session_id, amr.
login_succeeded = Signal()
# A password was wrong, at any door. Args: consecutive_failures (of that login identifier),
# door ("api_login", "browser_login", "admin_login", "password_change", "mfa_disable",
# "reauthenticate"). ``user`` is the account the identifier names, or None when it names none (the
# caller's answer does not tell them apart).
login_failed = Signal()
# A password backoff started or grew for a login identifier. Args: retry_after (seconds), door.
login_locked = Signal()
# A user confirmed it was them inside a session (POST reauthenticate). Args: session_id, amr (the
# session's, after), second_factor (True for a code, False for a password).
reauthenticated = Signal()
# A rotated refresh token was presented again: the session was revoked. Args: session_id.
refresh_reuse_detected = Signal()
# Sessions ended. Args: session_id, reason; when several ended at once, session_id is None and
# count says how many.
session_revoked = Signal()
# A TOTP code could not be checked: no configured encryption key decrypts the user's stored
# secret (an admin must restore the old key). Args: reason (never the secret or the code).
mfa_secret_unreadable = Signal()
# A signed-in user changed their password (POST password/change, the password change page): every
# other session ended, the owner was notified.
password_changed = Signal()
# A password reset email was asked for. ``user`` is the account when the address names one, else
# None (the requester is told the same either way). Sent after the answer, by the worker thread.
password_reset_requested = Signal()
# A reset link set a new password: every session ended, the owner was notified.
password_reset_completed = Signal()
# A reset link was refused (wrong, used or expired token). ``user`` is the account its uid names,
# else None.
password_reset_failed = Signal()
