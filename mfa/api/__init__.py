"""The JSON API (Django REST framework): viewsets, serializers, Bearer authentication, permissions,
per-IP throttles, the exception handler, OpenAPI descriptions and the URLs (``mfa.api.urls``,
also importable as ``mfa.urls``). Thin: every rule is in the core (mfa.flows, mfa.sessions, ...).
"""
