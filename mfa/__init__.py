"""mfa: multi-factor authentication and JWT sessions for Django and Django REST framework
(distribution django-mfa-sessions).

Where things are (docs/using-mfa.md, "Where things are", maps every security rule to its module):

- The core, with no HTTP: ``flows`` (the use cases every door calls), ``sessions`` (session rows,
  refresh rotation, revocation), ``tokens`` (JWTs and their claims), ``lockout`` (the code lockout
  and the backoff schedule), ``password_lockout`` (the per-account password backoff), ``policy``
  (mandatory MFA), ``factors`` (which second factors a user has; code parsing), ``methods/`` (one
  module per method: ``totp``, ``recovery_codes``), ``crypto`` (encryption at rest, lookup tags),
  ``models``, ``events`` (the event registry: type, signal, arguments) and ``signals``,
  ``exceptions``, ``conf`` (settings), ``adapter`` (what a host customises), ``checks``, ``admin``.
- ``api/``: the JSON API (views, serializers, authentication, permissions, throttling, the
  exception handler, OpenAPI descriptions, urls).
- ``pages/``: the browser pages (views, forms, urls) and the partial-login middleware with its
  state in the cookie session.
- ``urls``, ``pages_urls``, ``middleware``, ``permissions``, ``authentication``, ``throttling``:
  one-line re-exports of documented import paths.
"""

__version__ = "0.1.0"
