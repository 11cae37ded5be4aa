"""Test settings: authsite's settings with test-only secrets, fast hashing and local services.

``DATABASE_URL`` picks the backend as in production; when it is unset the session fixture in
``tests/conftest.py`` starts SecantusDB on a free port and points the MongoDB settings at it.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 40)
os.environ.setdefault("JWT_SIGNING_KEY", "test-jwt-signing-key-" + "y" * 40)
# A Fernet key (base64 of 32 bytes), as production has; tests of the keys derived from SECRET_KEY
# set MFA["ENCRYPTION_KEYS"] to None themselves.
os.environ.setdefault("MFA_ENCRYPTION_KEYS", "dGVzdC1vbmx5LW1mYS1lbmNyeXB0aW9uLWtleS0zMmI=")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SECURE_COOKIES", "0")
# Links in emails point at the test client's host.
os.environ.setdefault("SITE_URL", "http://testserver")
os.environ.setdefault("DATABASE_URL", "mongodb://127.0.0.1:1/authsite?directConnection=true")
os.environ["AUTHSITE_TEST_DB_FROM_FIXTURE"] = "1" if os.environ["DATABASE_URL"].endswith(
    "127.0.0.1:1/authsite?directConnection=true"
) else "0"

from authsite.settings import *

# Speed: the real hasher (Argon2id) is covered by its own tests through the settings fixture.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MFA = {
    **MFA,
    "IP_RATES": {
        "register": None, "login": None, "refresh": None, "code_failures": None, "password_reset": None,
        "passkey_login": None,
    },
    "PASSWORD_RESET_RATE": None,
}
LOGGING = {"version": 1, "disable_existing_loggers": False}
