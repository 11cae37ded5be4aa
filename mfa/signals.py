"""One signal per security event. Sent by domain code after the change is stored.

Every signal is sent with ``sender`` (the user model class), ``user``, ``ip`` and ``user_agent``
(either may be None), plus the keyword arguments listed. None ever carries a secret, code or token.
"""

from django.dispatch import Signal

# TOTP confirmed and turned on. Args: user, ip, user_agent.
mfa_enabled = Signal()
# MFA turned off (by the user or an admin reset). Args: user, ip, user_agent, by_admin.
mfa_disabled = Signal()
# A wrong code. Args: user, ip, user_agent, method ("totp" or "recovery_code"), failure_count.
mfa_failed = Signal()
# The per-user lockout started. Args: user, ip, user_agent, retry_after (seconds).
mfa_locked = Signal()
# A recovery code was used. Args: user, ip, user_agent, remaining.
recovery_code_used = Signal()
# New recovery codes replaced the old ones. Args: user, ip, user_agent.
recovery_codes_regenerated = Signal()
# A login completed and a session started. Args: user, ip, user_agent, session_id, amr.
login_succeeded = Signal()
# A password login failed. Args: user (always None: an unknown email and a wrong password are
# not told apart), ip, user_agent.
login_failed = Signal()
# A rotated refresh token was presented again: the session was revoked. Args: user, ip,
# user_agent, session_id.
refresh_reuse_detected = Signal()
# Sessions ended. Args: user, ip, user_agent, session_id (None when several ended at once, then
# also count), reason.
session_revoked = Signal()
