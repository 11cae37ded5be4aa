"""``mfa.middleware.PartialLoginMiddleware`` and the view markers (documented paths; the code is
mfa.pages.middleware)."""

from mfa.pages.middleware import (  # noqa: F401
    PartialLoginMiddleware,
    mfa_enrolment_view,
    mfa_exempt,
    mfa_json,
)
