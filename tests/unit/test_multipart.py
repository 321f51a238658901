"""RFC 2046 multipart parsing and building (lrs/service/statements/multipart.py)."""

from __future__ import annotations

import pytest

from lrs.service.errors import XAPIError
from lrs.service.statements.multipart import boundary_of, build_multipart, parse_multipart


def _body(boundary: str, *parts: bytes, newline: bytes = b"\r\n", preamble: bytes = b"") -> bytes:
    out = preamble
    for part in parts:
        out += b"--" + boundary.encode() + newline + part + newline
    return out + b"--" + boundary.encode() + b"--" + newline


JSON_PART = b'Content-Type: application/json\r\n\r\n{"a":1}'
FILE_PART = b"Content-Type: text/plain\r\nX-Experience-API-Hash: abc\r\n\r\nHello\r\n--not-a-delimiter"


@pytest.mark.parametrize("boundary", ["----WebKitFormBoundaryAbC123", "simple", "UPPER", "a'()+_,-./:=?b"])
def test_boundary_case_and_characters_kept(boundary: str) -> None:
    content_type = f'multipart/mixed; boundary="{boundary}"'
    parts = parse_multipart(_body(boundary, JSON_PART, FILE_PART), content_type)
    assert [p.body for p in parts] == [b'{"a":1}', b"Hello\r\n--not-a-delimiter"]
    assert parts[1].headers["x-experience-api-hash"] == "abc"


def test_unquoted_boundary_and_other_parameters() -> None:
    assert boundary_of("multipart/mixed; charset=utf-8; BOUNDARY=AbC") == "AbC"
    assert boundary_of('multipart/mixed; boundary="with space"') == "with space"


def test_case_differs_is_not_a_delimiter() -> None:
    body = _body("AbC", JSON_PART)
    with pytest.raises(XAPIError) as err:
        parse_multipart(body, "multipart/mixed; boundary=abc")
    assert err.value.status == 400 and "case-sensitive" in err.value.message


def test_preamble_epilogue_padding_and_bare_lf() -> None:
    body = b"preamble text\r\n--XyZ  \r\n" + JSON_PART + b"\r\n--XyZ--\r\nepilogue"
    assert parse_multipart(body, "multipart/mixed; boundary=XyZ")[0].body == b'{"a":1}'
    lf = _body("XyZ", b'Content-Type: application/json\n\n{"a":1}', newline=b"\n")
    assert parse_multipart(lf, "multipart/mixed; boundary=XyZ")[0].body == b'{"a":1}'


def test_longer_boundary_sharing_the_prefix_is_content() -> None:
    part = b"Content-Type: text/plain\r\n\r\nline\r\n--XyZmore"
    assert parse_multipart(_body("XyZ", part), "multipart/mixed; boundary=XyZ")[0].body == b"line\r\n--XyZmore"


@pytest.mark.parametrize("body", [b"", b"--b\r\n" + JSON_PART, b"no delimiter at all", b"--b--\r\n"])
def test_malformed_bodies_are_400(body: bytes) -> None:
    with pytest.raises(XAPIError) as err:
        parse_multipart(body, "multipart/mixed; boundary=b")
    assert err.value.status == 400


@pytest.mark.parametrize("content_type", ["multipart/mixed", "multipart/mixed; boundary=", "multipart/mixed; "
                                          "boundary=" + "x" * 71])
def test_missing_or_invalid_boundary_is_400(content_type: str) -> None:
    with pytest.raises(XAPIError) as err:
        boundary_of(content_type)
    assert err.value.status == 400


def test_built_response_has_unquoted_boundary_and_parses_back() -> None:
    body, content_type = build_multipart(b'{"x":1}', [("abc", "text/plain", b"hi")])
    assert '"' not in content_type
    parts = parse_multipart(body, content_type)
    assert [p.body for p in parts] == [b'{"x":1}', b"hi"]
