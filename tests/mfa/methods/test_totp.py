"""mfa.totp: RFC 4226/6238 values, code parsing, the drift window, replay order, the otpauth URI,
secret generation, and an independent cross-check with oathtool (SECURITY-CHECKS A OTP-01, B ENR-01..03,
H INP-04/05). No database: these are the domain functions."""

from __future__ import annotations

import base64
import re
import subprocess
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from mfa.methods import totp
from tests.mfa.helpers import require_tool

RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # ASCII "12345678901234567890", the 20-byte SHA1 seed

# RFC 6238 Appendix B, SHA1 column (8 digits, X=30, T0=0).
RFC6238_SHA1 = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),  # T = 0x27BC86AA: past 32-bit seconds (RFC 6238 4.2)
]

# RFC 4226 Appendix D: HOTP-SHA1, 6 digits, counts 0..9.
RFC4226_HOTP = [
    "755224", "287082", "359152", "969429", "338314",
    "254676", "287922", "162583", "399871", "520489",
]


def at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


# --- RFC vectors -----------------------------------------------------------------------------------


def test_rfc_seed_base32_is_the_20_byte_ascii_seed():
    assert base64.b32decode(RFC_SECRET) == b"12345678901234567890"


@pytest.mark.parametrize(("timestamp", "eight_digits"), RFC6238_SHA1)
def test_code_at_reproduces_rfc6238_sha1_vectors(timestamp, eight_digits):
    assert totp.code_at(RFC_SECRET, timestamp // 30) == eight_digits[-6:]
    assert totp.time_step(at(timestamp)) == timestamp // 30


@pytest.mark.parametrize(("count", "hotp"), list(enumerate(RFC4226_HOTP)))
def test_code_at_reproduces_rfc4226_hotp_values(count, hotp):
    assert totp.code_at(RFC_SECRET, count) == hotp


def test_time_step_survives_64_bit_counters():
    assert totp.time_step(at(20000000000)) == 0x27BC86AA


# --- Independent client: oathtool ------------------------------------------------------------------


def oathtool(secret: str, timestamp: int, digits: int = 6) -> str:
    exe = require_tool("oathtool", "oathtool")
    out = subprocess.run(
        [exe, "--totp", "-b", "-d", str(digits), secret, "-N", f"@{timestamp}"],
        capture_output=True, text=True, check=True, timeout=10,
    )
    return out.stdout.strip()


@pytest.mark.parametrize(("timestamp", "eight_digits"), RFC6238_SHA1)
def test_oathtool_agrees_with_the_rfc6238_vectors(timestamp, eight_digits):
    assert oathtool(RFC_SECRET, timestamp, digits=8) == eight_digits
    assert oathtool(RFC_SECRET, timestamp) == totp.code_at(RFC_SECRET, timestamp // 30)


@pytest.mark.parametrize("timestamp", [0, 29, 30, 1111111109, 1700000000, 2**31 + 15, 20000000000])
def test_code_at_matches_oathtool_for_fresh_secrets(timestamp):
    for _ in range(3):
        secret = totp.new_secret()
        assert totp.code_at(secret, totp.time_step(at(timestamp))) == oathtool(secret, timestamp)


# --- Parsing codes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", [" 123456 ", "123 456", "123456", "\t123456\t", "12 34 56", "123456\n"]
)
def test_normalize_code_ignores_whitespace_inside_and_around(raw):
    # Documented in mfa.totp.normalize_code: "the 6 ASCII digits with whitespace removed", so a
    # trailing newline is whitespace and is stripped (it can't slip past a `$` regex: fullmatch).
    assert totp.normalize_code(raw) == "123456"


@pytest.mark.parametrize(
    "raw",
    [
        "\u0661\u0662\u0663\u0664\u0665\u0666",  # Arabic-Indic ١٢٣٤٥٦
        "\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6",  # Persian ۱۲۳۴۵۶
        "\uff11\uff12\uff13\uff14\uff15\uff16",  # full-width digits
        "\u00b9\u00b2\u00b3\u2074\u2075\u2076",  # superscripts ¹²³⁴⁵⁶
        "\U0001d7cf\U0001d7d0\U0001d7d1\U0001d7d2\U0001d7d3\U0001d7d4",  # mathematical bold digits
        "12345\uff16",  # one full-width digit
        "\u200b123456",  # zero-width space is not whitespace
        "123456\u200b",
        "12345",
        "1234567",
        "123-456",
        "+12345",
        "1_2345",
        "-12345",
        "12345a",
        "",
        "123456\x00",
    ],
)
def test_normalize_code_refuses_anything_but_six_ascii_digits(raw):
    assert totp.normalize_code(raw) is None


def test_non_ascii_digits_fool_int_and_isdigit_but_not_normalize_code():
    arabic = "\u0661\u0662\u0663\u0664\u0665\u0666"
    assert int(arabic) == 123456 and arabic.isdigit() and re.fullmatch(r"\d{6}", arabic)
    assert totp.normalize_code(arabic) is None


@pytest.mark.parametrize("raw", [123456, None, b"123456", 123456.0, ["123456"]])
def test_normalize_code_refuses_non_strings(raw):
    assert totp.normalize_code(raw) is None


# --- Window and replay order (RFC 6238 5.2) --------------------------------------------------------


NOW = at(1_700_000_015)
CURRENT = totp.time_step(NOW)


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_matching_step_accepts_one_step_of_drift_either_side(offset):
    secret = totp.new_secret()
    code = totp.code_at(secret, CURRENT + offset)
    assert totp.matching_step(secret, code, now=NOW, after_step=0) == CURRENT + offset


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_matching_step_refuses_codes_two_or_more_steps_away(offset):
    secret = RFC_SECRET
    code = totp.code_at(secret, CURRENT + offset)
    assert code not in {totp.code_at(secret, CURRENT + k) for k in (-1, 0, 1)}  # a fair test
    assert totp.matching_step(secret, code, now=NOW, after_step=0) is None


def test_matching_step_refuses_a_step_already_accepted():
    code = totp.code_at(RFC_SECRET, CURRENT)
    assert totp.matching_step(RFC_SECRET, code, now=NOW, after_step=CURRENT) is None
    assert totp.matching_step(RFC_SECRET, code, now=NOW, after_step=CURRENT - 1) == CURRENT


def test_matching_step_refuses_an_earlier_step_after_a_later_one():
    # OTP-04: a fast phone's T+1 was accepted; T is still in the window but must be refused.
    code = totp.code_at(RFC_SECRET, CURRENT)
    assert totp.matching_step(RFC_SECRET, code, now=NOW, after_step=CURRENT + 1) is None
    previous = totp.code_at(RFC_SECRET, CURRENT - 1)
    assert totp.matching_step(RFC_SECRET, previous, now=NOW, after_step=CURRENT) is None


def test_matching_step_uses_only_the_given_time():
    code = totp.code_at(RFC_SECRET, CURRENT)
    later = at(int(NOW.timestamp()) + 300)
    assert totp.matching_step(RFC_SECRET, code, now=later, after_step=0) is None


# --- otpauth URI (Key Uri Format) ------------------------------------------------------------------


def test_provisioning_uri_is_exactly_the_key_uri_format():
    secret = "HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ"
    uri = totp.provisioning_uri(secret, "john.doe@email.com", "ACME Co")
    assert uri == (
        "otpauth://totp/ACME%20Co:john.doe%40email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ"
        "&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30"
    )


def test_provisioning_uri_percent_encodes_label_and_issuer():
    uri = totp.provisioning_uri(RFC_SECRET, "a+b@x.io", "ACME Co")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert parts.path == "/ACME%20Co:a%2Bb%40x.io"
    assert "issuer=ACME%20Co" in parts.query
    assert "+" not in parts.query and "+" not in parts.path.replace("%2B", "")
    params = parse_qs(parts.query)
    assert params == {
        "secret": [RFC_SECRET], "issuer": ["ACME Co"], "algorithm": ["SHA1"],
        "digits": ["6"], "period": ["30"],
    }
    issuer_prefix = unquote(parts.path[1:]).split(":")[0]
    assert issuer_prefix == params["issuer"][0]


def test_provisioning_uri_keeps_exactly_one_label_separator():
    uri = totp.provisioning_uri(RFC_SECRET, "a:b@x.io", "Evil:Corp")
    label = urlsplit(uri).path[1:]
    assert label.count(":") == 1 and "%3A" not in label.upper()
    assert label == "EvilCorp:ab%40x.io"
    assert "issuer=EvilCorp&" in uri


# --- Secrets ---------------------------------------------------------------------------------------


def test_new_secret_is_160_bits_of_unpadded_upper_case_base32():
    secret = totp.new_secret()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert len(base64.b32decode(secret)) == 20


def test_new_secret_gives_1000_distinct_secrets():
    secrets_ = [totp.new_secret() for _ in range(1000)]
    assert all(re.fullmatch(r"[A-Z2-7]{32}", s) for s in secrets_)
    assert len(set(secrets_)) == 1000
