"""One module per second-factor method, each holding that method's own verification rule:

- ``totp``: authenticator apps (RFC 6238): secrets, codes, the replay rule by time step;
- ``recovery_codes``: single-use look-up secrets: issue, consume once, give back after a lost race.

Which factors a user has is mfa.factors; the use cases that combine them are mfa.flows.
"""
