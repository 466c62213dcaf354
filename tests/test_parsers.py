"""Tables of inputs and expected outputs for the pure parsers of wsgiauth.parsers.

Each parser also has hypothesis properties: any input gives what the
docstring promises, and what a client library writes reads back the same.
"""

import re
from urllib.parse import parse_qsl, urlencode

import pytest
from helpers import CHROME
from hypothesis import given
from hypothesis import strategies as st

from wsgiauth.parsers import (
    MultipartError,
    best_match,
    first_values,
    host_name,
    parse_accept,
    parse_cookie,
    parse_header_value,
    parse_multipart,
    parse_urlencoded,
    weight_of,
)

# Text without lone surrogates: everything a client can encode as UTF-8.
TEXT = st.text(st.characters(blacklist_categories=("Cs",)))


# --- parse_urlencoded ---------------------------------------------------------

URLENCODED = [
    # What `curl -d 'email=bob@example.com' -d 'password=s3cret'` sends.
    (
        "curl -d",
        b"email=bob@example.com&password=s3cret",
        [("email", "bob@example.com"), ("password", "s3cret")],
    ),
    ("curl --data-urlencode", b"email=bob%40example.com", [("email", "bob@example.com")]),
    ("browser plus is space", b"name=Jean+Dupont", [("name", "Jean Dupont")]),
    ("plus in a name", b"first+name=x", [("first name", "x")]),
    ("encoded plus stays plus", b"password=a%2Bb", [("password", "a+b")]),
    ("encoded space", b"a=x%20y", [("a", "x y")]),
    ("utf-8 escapes", b"name=Zo%C3%AB&city=%E2%82%AC", [("name", "Zoë"), ("city", "€")]),
    ("lower-case hex", b"a=%c3%a9", [("a", "é")]),
    ("raw utf-8 bytes", "name=Zoë".encode(), [("name", "Zoë")]),
    ("encoded ampersand", b"a=1%262&b=3", [("a", "1&2"), ("b", "3")]),
    ("encoded equals in name", b"a%3Db=c", [("a=b", "c")]),
    ("second equals stays in value", b"a==b&c=d=e", [("a", "=b"), ("c", "d=e")]),
    ("invalid escape %zz stays literal", b"a=%zz", [("a", "%zz")]),
    ("lone percent stays literal", b"a=%", [("a", "%")]),
    ("truncated escape stays literal", b"a=%4", [("a", "%4")]),
    ("percent then escape", b"a=%%41", [("a", "%A")]),
    ("escaped percent decoded once", b"a=%2541", [("a", "%41")]),
    ("IE %u escape stays literal", b"a=%u00e9", [("a", "%u00e9")]),
    ("percent before non-ascii", "a=%é".encode(), [("a", "%é")]),
    ("NUL escape", b"a=%00", [("a", "\x00")]),
    ("empty pair skipped", b"a=1&&b=2", [("a", "1"), ("b", "2")]),
    ("leading and trailing &", b"&a=1&", [("a", "1")]),
    ("only ampersands", b"&&&", []),
    ("empty body", b"", []),
    ("pair without =", b"flag&a=1", [("flag", ""), ("a", "1")]),
    ("empty value", b"a=&b=", [("a", ""), ("b", "")]),
    ("empty name", b"=x", [("", "x")]),
    ("lone equals", b"=", [("", "")]),
    ("duplicates kept in order", b"a=1&a=2", [("a", "1"), ("a", "2")]),
    ("semicolon is not a separator", b"a=1;b=2", [("a", "1;b=2")]),
    (
        "query string",
        b"next=%2Fprofile%3Ftab%3D1&q=a+b",
        [("next", "/profile?tab=1"), ("q", "a b")],
    ),
    ("query string flag", b"debug&verbose=", [("debug", ""), ("verbose", "")]),
    ("query string array style", b"ids[]=1&ids[]=2", [("ids[]", "1"), ("ids[]", "2")]),
    ("white space kept", b" a = 1 ", [(" a ", " 1 ")]),
    ("newline in value", b"a=x%0D%0Ay", [("a", "x\r\ny")]),
]


@pytest.mark.parametrize(
    ("data", "expected"),
    [case[1:] for case in URLENCODED],
    ids=[case[0] for case in URLENCODED],
)
def test_parse_urlencoded(data: bytes, expected: list[tuple[str, str]]) -> None:
    assert parse_urlencoded(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"a=%FF", id="escaped 0xFF"),
        pytest.param(b"a=%C3", id="truncated escaped sequence"),
        pytest.param(b"a=%E2%82", id="truncated escaped euro"),
        pytest.param(b"name=Zo\xeb", id="raw latin-1 value"),
        pytest.param(b"Zo\xeb=1", id="raw latin-1 name"),
        pytest.param(b"ok=1&a=%ED%A0%80", id="escaped surrogate"),
        pytest.param(b"a=%C0%AF", id="overlong slash"),
    ],
)
def test_parse_urlencoded_bad_utf8(data: bytes) -> None:
    with pytest.raises(UnicodeDecodeError):
        parse_urlencoded(data)


@given(st.binary())
def test_parse_urlencoded_any_bytes(data: bytes) -> None:
    try:
        pairs = parse_urlencoded(data)
    except UnicodeDecodeError:
        return
    assert all(isinstance(name, str) and isinstance(value, str) for name, value in pairs)


@given(st.lists(st.tuples(TEXT.filter(bool), TEXT)))
def test_parse_urlencoded_round_trip(pairs: list[tuple[str, str]]) -> None:
    assert parse_urlencoded(urlencode(pairs).encode("ascii")) == pairs


@given(TEXT)
def test_parse_urlencoded_agrees_with_urllib(text: str) -> None:
    # Invalid percent-encoding stays literal, as urllib.parse (and browsers)
    # leave it: a client's odd byte is not an error.
    try:
        expected = parse_qsl(text, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        with pytest.raises(UnicodeDecodeError):
            parse_urlencoded(text.encode())
    else:
        assert parse_urlencoded(text.encode()) == expected


# --- parse_header_value -------------------------------------------------------

HEADER_VALUES = [
    ("empty", "", ("", {})),
    ("plain", "application/x-www-form-urlencoded", ("application/x-www-form-urlencoded", {})),
    (
        "charset",
        "application/x-www-form-urlencoded; charset=UTF-8",
        ("application/x-www-form-urlencoded", {"charset": "UTF-8"}),
    ),
    (
        "curl -F",
        "multipart/form-data; boundary=------------------------d74496d66958873e",
        ("multipart/form-data", {"boundary": "------------------------d74496d66958873e"}),
    ),
    (
        "chrome",
        "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
        ("multipart/form-data", {"boundary": "----WebKitFormBoundary7MA4YWxkTrZu0gW"}),
    ),
    (
        "quoted boundary",
        'multipart/form-data; boundary="simple boundary"',
        ("multipart/form-data", {"boundary": "simple boundary"}),
    ),
    (
        "quoted boundary with ; and =",
        'multipart/form-data; boundary="a;b=c"; charset=utf-8',
        ("multipart/form-data", {"boundary": "a;b=c", "charset": "utf-8"}),
    ),
    (
        "case: value lowered, names lowered, parameter kept",
        "Multipart/Form-Data; BOUNDARY=AbC",
        ("multipart/form-data", {"boundary": "AbC"}),
    ),
    (
        "white space everywhere",
        "  text/plain ;  a = 1 ;b=2  ",
        ("text/plain", {"a": "1", "b": "2"}),
    ),
    ("no space after ;", "text/plain;a=1;b=2", ("text/plain", {"a": "1", "b": "2"})),
    ("trailing ;", "text/plain;", ("text/plain", {})),
    ("parameter without = skipped", "text/plain; junk; a=1", ("text/plain", {"a": "1"})),
    ("empty parameter", "text/plain; a=", ("text/plain", {"a": ""})),
    ("empty quoted parameter", 'text/plain; a=""', ("text/plain", {"a": ""})),
    ("first duplicate wins", "text/plain; a=1; A=2", ("text/plain", {"a": "1"})),
    ("unterminated quote is a token", 'text/plain; a="open', ("text/plain", {"a": '"open'})),
    (
        "content-disposition",
        'form-data; name="email"',
        ("form-data", {"name": "email"}),
    ),
    (
        "content-disposition with file",
        'form-data; name="avatar"; filename="me.png"',
        ("form-data", {"name": "avatar", "filename": "me.png"}),
    ),
    (
        "escaped quote and backslash",
        r'form-data; name="say \"hi\""; filename="C:\\x.txt"',
        ("form-data", {"name": 'say "hi"', "filename": "C:\\x.txt"}),
    ),
    ("unquoted name", "form-data; name=email", ("form-data", {"name": "email"})),
    ("non-ascii", 'form-data; name="prénom"', ("form-data", {"name": "prénom"})),
]


@pytest.mark.parametrize(
    ("value", "expected"),
    [case[1:] for case in HEADER_VALUES],
    ids=[case[0] for case in HEADER_VALUES],
)
def test_parse_header_value(value: str, expected: tuple[str, dict[str, str]]) -> None:
    assert parse_header_value(value) == expected


# --- parse_multipart ----------------------------------------------------------

CURL_BOUNDARY = "------------------------d74496d66958873e"


def multipart(
    boundary: str, *parts: bytes, preamble: bytes = b"", epilogue: bytes = b"\r\n"
) -> bytes:
    """Build a well-formed body: each part is its headers, a blank line and its value."""
    delimiter = b"--" + boundary.encode("latin-1")
    body = preamble
    for part in parts:
        body += delimiter + b"\r\n" + part + b"\r\n"
    return body + delimiter + b"--" + epilogue


def field(name: str, value: str) -> bytes:
    """One text part as curl -F and browsers send it."""
    return f'Content-Disposition: form-data; name="{name}"\r\n\r\n{value}'.encode()


CURL_F = (
    b"--------------------------d74496d66958873e\r\n"
    b'Content-Disposition: form-data; name="email"\r\n'
    b"\r\n"
    b"bob@example.com\r\n"
    b"--------------------------d74496d66958873e\r\n"
    b'Content-Disposition: form-data; name="password"\r\n'
    b"\r\n"
    b"s3cret\r\n"
    b"--------------------------d74496d66958873e--\r\n"
)

CURL_F_FILE = (
    b"--------------------------d74496d66958873e\r\n"
    b'Content-Disposition: form-data; name="avatar"; filename="me.png"\r\n'
    b"Content-Type: image/png\r\n"
    b"\r\n"
    b"\x89PNG\r\n\x1a\n\x00\xff\xfe\r\n"
    b"--------------------------d74496d66958873e\r\n"
    b'Content-Disposition: form-data; name="email"\r\n'
    b"\r\n"
    b"bob@example.com\r\n"
    b"--------------------------d74496d66958873e--\r\n"
)

MULTIPART = [
    ("curl -F", CURL_F, CURL_BOUNDARY, [("email", "bob@example.com"), ("password", "s3cret")]),
    (
        "curl -F with a binary file part skipped",
        CURL_F_FILE,
        CURL_BOUNDARY,
        [("email", "bob@example.com")],
    ),
    (
        "chrome",
        multipart(
            "----WebKitFormBoundary7MA4YWxkTrZu0gW",
            field("email", "bob@example.com"),
            field("password", "pa ss"),
        ),
        "----WebKitFormBoundary7MA4YWxkTrZu0gW",
        [("email", "bob@example.com"), ("password", "pa ss")],
    ),
    (
        "preamble ignored",
        multipart("b", field("a", "1"), preamble=b"This is a preamble.\r\nIgnore it.\r\n"),
        "b",
        [("a", "1")],
    ),
    (
        "epilogue ignored",
        multipart("b", field("a", "1"), epilogue=b"\r\nan epilogue\r\n--b\r\n"),
        "b",
        [("a", "1")],
    ),
    (
        "no CRLF after the closing boundary",
        multipart("b", field("a", "1"), epilogue=b""),
        "b",
        [("a", "1")],
    ),
    (
        "file part with empty filename skipped",
        multipart(
            "b",
            b'Content-Disposition: form-data; name="f"; filename=""\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n",
            field("a", "1"),
        ),
        "b",
        [("a", "1")],
    ),
    (
        "only a file part",
        multipart("b", b'Content-Disposition: form-data; name="f"; filename="x"\r\n\r\nxx'),
        "b",
        [],
    ),
    (
        "quoted name with escapes",
        multipart("b", b'Content-Disposition: form-data; name="say \\"hi\\""\r\n\r\nv'),
        "b",
        [('say "hi"', "v")],
    ),
    (
        "unquoted name",
        multipart("b", b"Content-Disposition: form-data; name=email\r\n\r\nv"),
        "b",
        [("email", "v")],
    ),
    (
        "lower-case header, extra headers",
        multipart(
            "b",
            b"content-type: text/plain; charset=utf-8\r\n"
            b'content-disposition: form-data; name="a"\r\n'
            b"X-Extra: 1\r\n\r\nv",
        ),
        "b",
        [("a", "v")],
    ),
    (
        "value with CRLF and a blank line",
        multipart("b", field("a", "line 1\r\n\r\nline 3\r\n")),
        "b",
        [("a", "line 1\r\n\r\nline 3\r\n")],
    ),
    (
        "value that mentions the boundary",
        multipart("b", field("a", "x--b--y")),
        "b",
        [("a", "x--b--y")],
    ),
    ("empty value", multipart("b", field("a", "")), "b", [("a", "")]),
    ("utf-8 name and value", multipart("b", field("prénom", "Zoë €")), "b", [("prénom", "Zoë €")]),
    (
        "duplicates kept in order",
        multipart("b", field("a", "1"), field("a", "2")),
        "b",
        [("a", "1"), ("a", "2")],
    ),
    ("one-character boundary", multipart("x", field("a", "1")), "x", [("a", "1")]),
    ("70-character boundary", multipart("x" * 70, field("a", "1")), "x" * 70, [("a", "1")]),
    (
        "boundary with spaces",
        multipart("simple boundary", field("a", "1")),
        "simple boundary",
        [("a", "1")],
    ),
]


@pytest.mark.parametrize(
    ("body", "boundary", "expected"),
    [case[1:] for case in MULTIPART],
    ids=[case[0] for case in MULTIPART],
)
def test_parse_multipart(body: bytes, boundary: str, expected: list[tuple[str, str]]) -> None:
    assert parse_multipart(body, boundary) == expected


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param('multipart/form-data; boundary="b"', id="quoted"),
        pytest.param("multipart/form-data; boundary=b", id="token"),
        pytest.param("Multipart/Form-Data;BOUNDARY=b;charset=utf-8", id="odd case, no spaces"),
    ],
)
def test_boundary_from_content_type(content_type: str) -> None:
    kind, params = parse_header_value(content_type)
    assert kind == "multipart/form-data"
    assert parse_multipart(multipart("b", field("a", "1")), params["boundary"]) == [("a", "1")]


MULTIPART_ERRORS = [
    ("empty body", b"", "b", "no boundary line"),
    ("urlencoded body", b"email=a%40b&password=x", "b", "no boundary line"),
    ("wrong boundary", multipart("other", field("a", "1")), "b", "no boundary line"),
    (
        "no closing boundary",
        b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n',
        "b",
        "no closing boundary",
    ),
    (
        "cut off mid-value",
        b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1',
        "b",
        "no closing boundary",
    ),
    (
        "closing boundary not on its own line",
        b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1--b--',
        "b",
        "no closing boundary",
    ),
    ("only the closing boundary", b"--b--\r\n", "b", ""),
    (
        "LF line endings",
        b'--b\nContent-Disposition: form-data; name="a"\n\n1\n--b--\n',
        "b",
        "no closing boundary",
    ),
    (
        "boundary line not followed by CRLF",
        b'--bX\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--',
        "b",
        "not followed by CRLF",
    ),
    (
        "part without blank line",
        b'--b\r\nContent-Disposition: form-data; name="a"\r\n--b--',
        "b",
        "no blank line",
    ),
    (
        "part with headers and no blank line",
        multipart("b", b'Content-Disposition: form-data; name="a"\r\nv'),
        "b",
        "no blank line",
    ),
    ("part without headers", multipart("b", b"\r\nvalue"), "b", "Content-Disposition"),
    (
        "Content-Disposition without name",
        multipart("b", b"Content-Disposition: form-data\r\n\r\nv"),
        "b",
        "Content-Disposition",
    ),
    (
        "Content-Disposition not form-data",
        multipart("b", b'Content-Disposition: attachment; name="a"\r\n\r\nv'),
        "b",
        "Content-Disposition",
    ),
    (
        "only Content-Type",
        multipart("b", b"Content-Type: text/plain\r\n\r\nv"),
        "b",
        "Content-Disposition",
    ),
    (
        "one bad part among good ones",
        multipart("b", field("a", "1"), b"X: y\r\n\r\nv", field("c", "3")),
        "b",
        "Content-Disposition",
    ),
    ("empty boundary", multipart("", field("a", "1")), "", "1 to 70"),
    ("71-character boundary", multipart("x" * 71, field("a", "1")), "x" * 71, "1 to 70"),
]


@pytest.mark.parametrize(
    ("body", "boundary", "message"),
    [case[1:] for case in MULTIPART_ERRORS],
    ids=[case[0] for case in MULTIPART_ERRORS],
)
def test_parse_multipart_broken(body: bytes, boundary: str, message: str) -> None:
    with pytest.raises(MultipartError, match=re.escape(message) if message else None):
        parse_multipart(body, boundary)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            multipart("b", b'Content-Disposition: form-data; name="a"\r\n\r\nZo\xeb'),
            id="latin-1 value",
        ),
        pytest.param(
            multipart("b", b'Content-Disposition: form-data; name="\xff"\r\n\r\nv'),
            id="bad byte in name",
        ),
        pytest.param(
            multipart(
                "b", field("ok", "1"), b'Content-Disposition: form-data; name="a"\r\n\r\n\xc3'
            ),
            id="truncated sequence",
        ),
    ],
)
def test_parse_multipart_bad_utf8(body: bytes) -> None:
    with pytest.raises(UnicodeDecodeError):
        parse_multipart(body, "b")


def test_multipart_error_is_a_value_error() -> None:
    assert issubclass(MultipartError, ValueError)


# Fragments that real bodies are made of, so that random bodies get past the
# first checks more often than random bytes would.
MULTIPART_PIECES = st.sampled_from(
    [
        b"--b",
        b"--b--",
        b"\r\n",
        b"\n",
        b"--",
        b"Content-Disposition: form-data",
        b'; name="a"',
        b"; name=",
        b'; filename="f"',
        b'"',
        b"\\",
        b";",
        b":",
        b"value",
        b"\xff",
        b"\xc3",
        b"\xa9",
    ]
)


@given(st.one_of(st.binary(), st.lists(MULTIPART_PIECES).map(b"".join)))
def test_parse_multipart_any_bytes(body: bytes) -> None:
    try:
        pairs = parse_multipart(body, "b")
    except (MultipartError, UnicodeDecodeError):
        return
    assert all(isinstance(name, str) and isinstance(value, str) for name, value in pairs)


# A name that field() can put between double quotes without escaping.
NAME = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters='"\\\r\n'))
BOUNDARY_CHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=?"


@given(
    st.text(BOUNDARY_CHARS, min_size=1, max_size=70),
    st.lists(st.tuples(NAME, TEXT), min_size=1),
)
def test_parse_multipart_round_trip(boundary: str, pairs: list[tuple[str, str]]) -> None:
    # RFC 2046 §5.1.1: the sender picks a boundary that occurs in no value.
    body = multipart(boundary, *(field(name, value) for name, value in pairs))
    if body.count(b"--" + boundary.encode()) != len(pairs) + 1:
        return
    assert parse_multipart(body, boundary) == pairs


# --- parse_cookie and first_values --------------------------------------------

COOKIES = [
    ("empty header", "", []),
    ("one pair", "session_id=abc", [("session_id", "abc")]),
    ("browser style", "theme=dark; session_id=abc", [("theme", "dark"), ("session_id", "abc")]),
    ("no space after ;", "a=1;b=2", [("a", "1"), ("b", "2")]),
    (
        "space in a value",
        "theme=light dark; session_id=abc",
        [("theme", "light dark"), ("session_id", "abc")],
    ),
    ("stray ;;", "a=1;; ;session_id=abc;", [("a", "1"), ("session_id", "abc")]),
    ("pair without =", "flag; session_id=abc; other", [("session_id", "abc")]),
    ("empty name", "=abc; session_id=abc", [("session_id", "abc")]),
    ("blank name", "  =x; a=1", [("a", "1")]),
    ("empty value", "session_id=", [("session_id", "")]),
    ("quoted value", 'session_id="abc"', [("session_id", "abc")]),
    ("empty quoted value", 'a=""', [("a", "")]),
    ("lone quote", 'a="', [("a", '"')]),
    ("half-quoted value", 'a="abc; b=def"', [("a", '"abc'), ("b", 'def"')]),
    ("quoted value with spaces", 'a=" x "', [("a", " x ")]),
    ("= inside the value", "token=a=b==; c=1", [("token", "a=b=="), ("c", "1")]),
    ("white space around", "  a  =  1  ;\tb\t=\t2\t", [("a", "1"), ("b", "2")]),
    (
        "duplicates kept in order",
        "session_id=first; session_id=second",
        [("session_id", "first"), ("session_id", "second")],
    ),
    ("non-ascii", "name=Zoë; €=euro", [("name", "Zoë"), ("€", "euro")]),
    ("name with a space", "my cookie=1", [("my cookie", "1")]),
    (
        "JSON-ish value",
        'prefs={"a":1}; session_id=abc',
        [("prefs", '{"a":1}'), ("session_id", "abc")],
    ),
    # Two Cookie headers, as waitress joins them: HTTP/2 may split the cookies
    # into several headers (RFC 9113 §8.2.3; SECURITY.md, "cookies in several headers").
    ("comma between headers", "a=1, b=2", [("a", "1"), ("b", "2")]),
    ("comma inside a value", "a=x,y; b=2", [("a", "x"), ("b", "2")]),
    (
        "Set-Cookie attributes sent back",
        "session_id=abc; Path=/; HttpOnly",
        [("session_id", "abc"), ("Path", "/")],
    ),
]


@pytest.mark.parametrize(
    ("header", "expected"),
    [case[1:] for case in COOKIES],
    ids=[case[0] for case in COOKIES],
)
def test_parse_cookie(header: str, expected: list[tuple[str, str]]) -> None:
    assert parse_cookie(header) == expected


@pytest.mark.parametrize(
    ("header", "session_id"),
    [
        pytest.param("theme=light dark; session_id=abc", "abc", id="malformed neighbour"),
        pytest.param("session_id=first; session_id=second", "first", id="first duplicate wins"),
        pytest.param("session_id=; session_id=abc", "", id="empty first duplicate still wins"),
        pytest.param('session_id="abc"; x', "abc", id="quoted"),
        pytest.param("garbage;;=;session_id = abc ;", "abc", id="garbage around"),
    ],
)
def test_session_id_from_cookie_header(header: str, session_id: str) -> None:
    assert first_values(parse_cookie(header))["session_id"] == session_id


@given(TEXT)
def test_parse_cookie_any_text(header: str) -> None:
    for name, value in parse_cookie(header):
        assert name
        assert name == name.strip()
        assert isinstance(value, str)


@given(TEXT)
def test_bad_cookie_pairs_never_hide_good_ones(garbage: str) -> None:
    assert ("session_id", "abc") in parse_cookie(garbage + "; session_id=abc")


FIRST_VALUES = [
    ("empty", [], {}),
    ("distinct", [("a", "1"), ("b", "2")], {"a": "1", "b": "2"}),
    ("first wins", [("a", "1"), ("a", "2")], {"a": "1"}),
    ("first wins even if empty", [("a", ""), ("a", "2")], {"a": ""}),
    ("order of first appearance", [("b", "1"), ("a", "2"), ("b", "3")], {"b": "1", "a": "2"}),
    ("names are case-sensitive", [("A", "1"), ("a", "2")], {"A": "1", "a": "2"}),
]


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [case[1:] for case in FIRST_VALUES],
    ids=[case[0] for case in FIRST_VALUES],
)
def test_first_values(pairs: list[tuple[str, str]], expected: dict[str, str]) -> None:
    result = first_values(pairs)
    assert result == expected
    assert list(result) == list(expected)


def test_first_values_takes_any_iterable() -> None:
    assert first_values(iter([("a", "1"), ("a", "2")])) == {"a": "1"}


# --- content negotiation: parse_accept, weight_of, best_match -----------------

FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
OFFERS = ["application/json", "text/html"]

ACCEPT = [
    ("", []),
    ("*/*", [("*/*", 1000)]),
    ("text/html", [("text/html", 1000)]),
    ("TEXT/HTML ; Q=0.5", [("text/html", 500)]),
    ("text/html;q=0.8,application/json", [("text/html", 800), ("application/json", 1000)]),
    # Three decimals at most, "1." and "0" are weights; the rest is dropped.
    ("a/b;q=0.125, c/d;q=1., e/f;q=0", [("a/b", 125), ("c/d", 1000), ("e/f", 0)]),
    ("a/b;q=0.1234, c/d;q=1.5, e/f;q=high, g/h;q=, i/j;q=-1", []),
    # Only the first q counts; other parameters are not kept.
    ("text/html;level=1;q=0.3;q=0.9", [("text/html", 300)]),
    # Not type/subtype: skipped, and the good ones around them are kept.
    ("html, */html, /, text/, ,;q=1, text/html", [("text/html", 1000)]),
    ("text/*;q=0.2, application/*", [("text/*", 200), ("application/*", 1000)]),
]


@pytest.mark.parametrize(("header", "expected"), ACCEPT)
def test_parse_accept(header: str, expected: list[tuple[str, int]]) -> None:
    assert parse_accept(header) == expected


WEIGHTS = [
    # The most specific range wins, whatever the order (RFC 9110 §12.5.1).
    ("text/*;q=0.3, text/html;q=0.7, */*;q=0.5", "text/html", 700),
    ("*/*;q=0.5, text/*;q=0.3", "text/html", 300),
    ("*/*;q=0.5, text/*;q=0.3", "application/json", 500),
    # Of two equally specific ranges, the first.
    ("text/html;q=0.2, text/html;q=0.9", "text/html", 200),
    # No range matches: not acceptable.
    ("image/png", "text/html", 0),
    ("", "text/html", 0),
]


@pytest.mark.parametrize(("header", "media_type", "weight"), WEIGHTS)
def test_weight_of(header: str, media_type: str, weight: int) -> None:
    assert weight_of(media_type, parse_accept(header)) == weight


NEGOTIATION = [
    # Browsers navigating to a page: HTML.
    pytest.param(CHROME, "text/html", id="chromium"),
    pytest.param(FIREFOX, "text/html", id="firefox"),
    pytest.param("text/html", "text/html", id="text/html"),
    pytest.param("text/*", "text/html", id="text/*"),
    pytest.param("text/html;q=0.5, application/json;q=0.4", "text/html", id="html-weighs-more"),
    # Everyone else: JSON. curl and requests send */*; some send nothing.
    pytest.param("*/*", "application/json", id="curl-and-requests"),
    pytest.param("", "application/json", id="no-accept"),
    pytest.param("   ", "application/json", id="blank"),
    pytest.param("application/json", "application/json", id="application/json"),
    pytest.param("application/json, text/html", "application/json", id="tie-json-first"),
    pytest.param("text/html, application/json", "application/json", id="tie-either-order"),
    pytest.param("text/html;q=0.5, */*;q=0.5", "application/json", id="tie-through-*/*"),
    pytest.param("text/html;q=0", "application/json", id="html-refused"),
    pytest.param("image/png", "application/json", id="neither-acceptable"),
    pytest.param("text/html;q=2", "application/json", id="malformed-q"),
    pytest.param("text/html;q=high, */*", "application/json", id="malformed-q-skipped"),
    pytest.param("nonsense", "application/json", id="malformed"),
    pytest.param("application/*;q=0.1, text/html;q=0.2", "text/html", id="ranges"),
]


@pytest.mark.parametrize(("header", "expected"), NEGOTIATION)
def test_best_match(header: str, expected: str) -> None:
    assert best_match(header, OFFERS) == expected


# Pieces of real Accept headers, so that random text reaches the q parser.
ACCEPT_PIECES = st.sampled_from(
    ["text/html", "application/json", "*/*", "text/*", ",", ";", "q=", "q=0.", "1", "0", " ", "Q"]
)


@given(st.one_of(TEXT, st.lists(ACCEPT_PIECES).map("".join)))
def test_parse_accept_any_text(header: str) -> None:
    ranges = parse_accept(header)
    for media_range, weight in ranges:
        kind, _, subtype = media_range.partition("/")
        assert kind and subtype and media_range == media_range.lower()
        assert 0 <= weight <= 1000
    assert best_match(header, OFFERS) in OFFERS


@given(st.one_of(TEXT, st.lists(ACCEPT_PIECES).map("".join)))
def test_html_only_when_it_weighs_strictly_more(header: str) -> None:
    ranges = parse_accept(header)
    html, json = weight_of("text/html", ranges), weight_of("application/json", ranges)
    assert (best_match(header, OFFERS) == "text/html") == (html > json)


@given(st.integers(0, 1000), st.integers(0, 1000))
def test_best_match_follows_the_weights(html: int, json: int) -> None:
    header = f"text/html;q={html / 1000:.3f}, application/json;q={json / 1000:.3f}"
    assert best_match(header, OFFERS) == ("text/html" if html > json else "application/json")


# --- Host -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authority", "name"),
    [
        ("auth.example.com", "auth.example.com"),
        ("Auth.Example.COM:8443", "auth.example.com"),
        ("auth.example.com.", "auth.example.com"),
        ("auth.example.com.:80", "auth.example.com"),
        (" 10.0.0.5:5000 ", "10.0.0.5"),
        ("[::1]:8080", "[::1]"),
        ("[2001:DB8::1]", "[2001:db8::1]"),
        ("[::1", "[::1"),  # not closed: kept as it is, and matches no name
        ("", ""),
    ],
)
def test_host_name(authority: str, name: str) -> None:
    assert host_name(authority) == name
