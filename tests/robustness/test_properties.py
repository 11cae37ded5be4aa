"""Property tests (hypothesis) of the domain code that reads untrusted input: code normalisation,
recovery code format, lookup and hashing, token parsing, and the API's serializer fields.

The property each time: arbitrary input never raises anything but the documented error, and what
is accepted has exactly the documented form (SECURITY-CHECKS INP-03..INP-05, INP-08, INP-10;
REC-01, REC-02). Runs are derandomized (the same examples every run) and keep no example database.
"""

from __future__ import annotations

import base64
import json
import re
import string

import pytest
from django.contrib.auth.hashers import check_password, make_password
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from rest_framework import serializers as drf_serializers
from rest_framework_simplejwt.exceptions import TokenError

from mfa import tokens
from mfa.api import serializers
from mfa.methods import recovery_codes, totp
from tests.mfa.helpers import account_of

PROPS = settings(max_examples=300, derandomize=True, database=None, deadline=None)
DB_PROPS = settings(
    max_examples=60, derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

ASCII_DIGITS = set(string.digits)
RCODE_CHARS = set(recovery_codes.ALPHABET)
SIX_DIGITS = st.text(alphabet="0123456789", min_size=6, max_size=6)
RCODE = st.text(alphabet=recovery_codes.ALPHABET, min_size=15, max_size=15)
# every Unicode code point, lone surrogates included (JSON "\ud800" decodes to one)
ANY_TEXT = st.text(st.characters(codec=None), max_size=80)
# characters that digit-loose parsers take for digits (INP-04): Arabic-Indic, Persian, full-width,
# superscripts, Devanagari, mathematical bold
LOOKALIKE_DIGITS = "".join(chr(zero + d) for zero in (0x0660, 0x06F0, 0xFF10, 0x0966, 0x1D7CE) for d in range(10))
LOOKALIKE_DIGITS += "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ANY_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT, children, max_size=4),
    max_leaves=12,
)


@st.composite
def spaced(draw, inner):
    """``inner``'s text with Unicode whitespace drawn before, between and after its characters."""
    text = draw(inner)
    gaps = draw(st.lists(st.sampled_from([" ", "\t", "\n", "\u3000", "\xa0", ""]),
                         min_size=len(text) + 1, max_size=len(text) + 1))
    return gaps[0] + "".join(c + gap for c, gap in zip(text, gaps[1:], strict=True))


# --- mfa.totp.normalize_code --------------------------------------------------------------------------


@PROPS
@given(ANY_TEXT)
@example("١٢٣٤٥٦")
@example("\uff11\uff12\uff13\uff14\uff15\uff16")
@example("123456\n")
@example("\u200b123456")
@example("12345\u0000")
def test_normalize_code_returns_six_ascii_digits_or_none(text):
    result = totp.normalize_code(text)
    if result is not None:
        assert len(result) == 6 and set(result) <= ASCII_DIGITS
        assert result == "".join(text.split())


@PROPS
@given(spaced(SIX_DIGITS))
def test_normalize_code_ignores_whitespace_around_and_inside(text):
    assert totp.normalize_code(text) == "".join(text.split())


@PROPS
@given(SIX_DIGITS, st.integers(0, 5), st.sampled_from(LOOKALIKE_DIGITS))
def test_normalize_code_refuses_digits_of_other_scripts(code, position, lookalike):
    assert totp.normalize_code(code[:position] + lookalike + code[position + 1 :]) is None


@PROPS
@given(JSON_VALUES.filter(lambda v: not isinstance(v, str)))
def test_normalize_code_refuses_non_strings(value):
    assert totp.normalize_code(value) is None


@PROPS
@given(st.text(alphabet="0123456789", max_size=12).filter(lambda t: len(t) != 6))
def test_normalize_code_refuses_other_lengths(code):
    assert totp.normalize_code(code) is None


# --- mfa.recovery: normalize, generate ----------------------------------------------------------------


@PROPS
@given(ANY_TEXT)
@example("ABCDE-FGHIJ-KLMN1")
@example("ÀBCDE-FGHIJ-KLMN2")
@example("ABCDE-FGHIJ-KLMN2\u0000")
def test_recovery_normalize_returns_fifteen_base32_characters_or_none(text):
    result = recovery_codes.normalize(text)
    if result is not None:
        assert len(result) == 15 and set(result) <= RCODE_CHARS
        assert result == "".join(text.split()).replace("-", "").upper()


@PROPS
@given(RCODE, st.data())
def test_recovery_normalize_forgives_case_spaces_and_dashes(code, data):
    groups = [code[i : i + 5] for i in range(0, 15, 5)]
    sep = data.draw(st.sampled_from(["-", " ", "", " - ", "--", "\t"]))
    text = sep.join(groups)
    text = "".join(c.lower() if data.draw(st.booleans()) else c for c in text)
    assert recovery_codes.normalize(text) == code


@PROPS
@given(JSON_VALUES.filter(lambda v: not isinstance(v, str)))
def test_recovery_normalize_refuses_non_strings(value):
    assert recovery_codes.normalize(value) is None


@settings(max_examples=30, derandomize=True, database=None, deadline=None)
@given(st.integers(1, 40))
def test_generated_codes_are_distinct_well_formed_and_their_own_normal_form(count):
    codes = recovery_codes.generate(count)
    assert len(codes) == len(set(codes)) == count
    for code in codes:
        assert re.fullmatch(r"[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5}", code)
        assert recovery_codes.normalize(code) == code.replace("-", "")


# --- Lookup tags and hashes -----------------------------------------------------------------------------


@PROPS
@given(RCODE, RCODE, st.text(min_size=1, max_size=24), st.text(min_size=1, max_size=24))
def test_lookup_tags_are_deterministic_and_separate_codes_and_users(a, b, user_a, user_b):
    assert recovery_codes._tag(user_a, a) == recovery_codes._tag(user_a, a)
    assert re.fullmatch(r"[0-9a-f]{64}", recovery_codes._tag(user_a, a))
    if a != b:
        assert recovery_codes._tag(user_a, a) != recovery_codes._tag(user_a, b)
    if user_a != user_b:
        assert recovery_codes._tag(user_a, a) != recovery_codes._tag(user_b, a)
    assert a not in recovery_codes._tag(user_a, a)


@settings(max_examples=40, derandomize=True, database=None, deadline=None)
@given(RCODE, ANY_TEXT)
def test_code_hash_verifies_only_its_code_and_never_contains_it(code, guess):
    stored = make_password(code)
    assert code not in stored
    assert check_password(code, stored)
    assert check_password(guess, stored) == (guess == code)


@pytest.fixture
def coded_user(make_user):
    """A user with a confirmed device and 10 recovery codes; made once per test, so hypothesis'
    examples share it (what they use up stays used)."""
    from mfa import crypto, factors
    from mfa.models import TOTPDevice

    user = make_user()
    TOTPDevice.objects.create(user=user, encrypted_secret=crypto.encrypt(totp.new_secret()), confirmed=True)
    return user, recovery_codes.replace_codes(user, factors.account_of(user, create=True)), set()


@pytest.mark.django_db(transaction=True)
@DB_PROPS
@given(guess=ANY_TEXT | spaced(RCODE))
def test_consume_never_raises_and_refuses_every_unissued_code(coded_user, guess):
    from django.utils import timezone


    user, issued, _ = coded_user
    assume(recovery_codes.normalize(guess) not in {c.replace("-", "") for c in issued})
    device = account_of(user)
    assert recovery_codes.consume(user, device, guess, now=timezone.now()) is None
    assert account_of(user).recovery_codes_left == 10


@pytest.mark.django_db(transaction=True)
@settings(DB_PROPS, max_examples=20)
@given(index=st.integers(0, 9), spell=st.sampled_from([str, str.lower, lambda c: c.replace("-", " "),
                                                        lambda c: f"  {c.replace('-', '')}\n"]))
def test_consume_accepts_any_spelling_of_an_issued_code_exactly_once(coded_user, index, spell):
    from django.utils import timezone


    user = coded_user[0]
    device = account_of(user)
    codes = recovery_codes.replace_codes(user, device)  # a fresh set for every example
    assert recovery_codes.consume(user, device, spell(codes[index]), now=timezone.now()) == 9
    assert recovery_codes.consume(user, device, codes[index], now=timezone.now()) is None
    assert account_of(user).recovery_codes_left == 9
    others = [c for i, c in enumerate(codes) if i != index]
    assert recovery_codes.consume(user, device, others[index % 9], now=timezone.now()) == 8


# --- mfa.tokens: parsing arbitrary strings ---------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@st.composite
def jwt_like(draw):
    """Three dot-separated segments: random bytes, or JSON objects with JWT-ish claims."""
    claims = st.dictionaries(
        st.sampled_from(["alg", "typ", "kid", "token_type", "exp", "jti", "user_id", "sid", "aud", "iss",
                         "crit", "jku", "x5u"]),
        JSON_VALUES, max_size=6,
    )
    segment = st.one_of(
        st.binary(max_size=40).map(_b64),
        claims.map(lambda c: _b64(json.dumps(c).encode())),
        st.text(max_size=20),
    )
    parts = draw(st.lists(segment, min_size=1, max_size=5))
    return ".".join(parts)


TOKEN_CLASSES = [tokens.AccessToken, tokens.RefreshToken, tokens.MFAToken]


@PROPS
@given(st.one_of(ANY_TEXT, jwt_like(), st.binary(max_size=120)))
@example("")
@example("a.b")
@example("\ud800.\udfff.x")
@example("eyJhbGciOiJub25lIn0.e30.")
def test_token_parsing_raises_only_token_error(raw):
    for cls in TOKEN_CLASSES:
        try:
            cls(raw)
        except TokenError:
            continue
        raise AssertionError(f"{cls.__name__} accepted {raw!r}")


@pytest.mark.django_db(transaction=True)
def test_token_of_another_type_raises_only_token_error(make_user):
    user = make_user()
    mfa = tokens.make_mfa_token(user)
    with pytest.raises(TokenError):
        tokens.AccessToken(mfa)
    with pytest.raises(TokenError):
        tokens.RefreshToken(mfa)
    assert tokens.MFAToken(mfa)["token_type"] == "mfa"


# --- mfa.serializers: arbitrary JSON ---------------------------------------------------------------------

FIELDS = [
    serializers.StrictCharField(max_length=2048),
    serializers.PasswordField(),
    serializers.TOTPCodeField(),
    serializers.AnyCodeField(),
]


@PROPS
@given(JSON_VALUES)
@example(123456)
@example(1e6)
@example(True)
@example("\u0000")
@example("\ud800")
@example("\uff11\uff12\uff13\uff14\uff15\uff16")
def test_serializer_fields_raise_only_validation_error(value):
    for field in FIELDS:
        try:
            result = field.run_validation(value)
        except drf_serializers.ValidationError:
            continue
        assert isinstance(result, str)
        assert "\x00" not in result
        if isinstance(field, serializers.TOTPCodeField):
            assert len(result) == 6 and set(result) <= ASCII_DIGITS
        if isinstance(field, serializers.AnyCodeField):
            assert (len(result) == 6 and set(result) <= ASCII_DIGITS) or (
                len(result) == 15 and set(result) <= RCODE_CHARS
            )


@PROPS
@given(JSON_VALUES)
@example(123456)
def test_code_fields_never_take_a_json_number(value):
    assume(not isinstance(value, str))
    for field in (serializers.TOTPCodeField(), serializers.AnyCodeField()):
        with pytest.raises(drf_serializers.ValidationError):
            field.run_validation(value)


REQUEST_SERIALIZERS = [
    serializers.LoginSerializer,
    serializers.MFALoginVerifySerializer,
    serializers.SetupVerifySerializer,
    serializers.CodeSerializer,
    serializers.DisableSerializer,
    serializers.RefreshSerializer,
]


@st.composite
def request_bodies(draw):
    keys = st.sampled_from(["email", "password", "mfa_token", "code", "refresh", "is_staff", "x"]) | ANY_TEXT
    return draw(st.one_of(JSON_VALUES, st.dictionaries(keys, JSON_VALUES, max_size=5)))


@PROPS
@given(request_bodies())
def test_request_serializers_validate_any_json_without_raising(body):
    for cls in REQUEST_SERIALIZERS:
        s = cls(data=body)
        if s.is_valid():
            assert isinstance(s.validated_data, dict)
            assert all(isinstance(v, str) for v in s.validated_data.values())
        else:
            assert isinstance(s.errors, dict) and s.errors


@pytest.mark.django_db(transaction=True)
@DB_PROPS
@given(body=request_bodies())
def test_register_serializer_validates_any_json_without_raising(body):
    from accounts.serializers import RegisterSerializer

    s = RegisterSerializer(data=body)
    if not s.is_valid():
        assert isinstance(s.errors, dict) and s.errors
