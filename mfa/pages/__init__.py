"""The browser pages: views, forms, URLs (``mfa.pages.urls``, also ``mfa.pages_urls``), and the
partial-login middleware with the half-authenticated state it keeps in the cookie session
(``mfa.pages.state``). Thin: every rule is in the core (mfa.flows, mfa.sessions, ...).
"""
