"""HTTP by hand, the request's side: pure parsers of what a client sends.

Nothing here knows about WSGI: every function takes ``str`` or ``bytes`` and
returns plain Python values, so each can be read and tested on its own.
Forms, query strings and cookies are parsed to ordered ``(name, value)``
pairs; which duplicate wins is a policy applied afterwards, in one place
(``first_values``). ``Accept`` is parsed to weighted media ranges, and
``best_match`` picks what to answer with.
"""

import re
from collections.abc import Iterable
from urllib.parse import unquote_to_bytes

# --- forms and query strings ------------------------------------------------


def parse_urlencoded(data: bytes) -> list[tuple[str, str]]:
    """Parse a query string or an ``application/x-www-form-urlencoded`` body.

    Pairs are split on ``&``, then on the first ``=`` (a pair with no ``=``
    is a name with an empty value). ``+`` means a space and ``%XX`` a byte;
    a ``%`` not followed by two hex digits stays as it is, as browsers and
    ``urllib.parse`` leave it. The bytes are then decoded as UTF-8, which
    HTML forms use; raises ``UnicodeDecodeError`` if they are not UTF-8.
    """
    pairs = []
    for chunk in data.split(b"&"):
        if not chunk:
            continue
        name, _, value = chunk.partition(b"=")
        pairs.append(
            (
                unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8"),
                unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8"),
            )
        )
    return pairs


# Parameters after the first ";" of Content-Type or Content-Disposition:
# name=token or name="quoted string" (RFC 9110 §5.6.6). Read piece by piece:
_PARAMETER = re.compile(
    r"""
    ;\s*
    (?P<name>[^\s;=]+)            # the parameter name
    \s*=\s*
    (?:
        "(?P<quoted>(?:[^"\\]|\\.)*)"  # a quoted string, with \-escapes
      | (?P<token>[^;]*)          # or a bare token, up to the next ;
    )
    """,
    re.VERBOSE,
)


def parse_header_value(value: str) -> tuple[str, dict[str, str]]:
    """Split a header such as ``multipart/form-data; boundary=x`` in two.

    Returns the main value lower-cased and its parameters with lower-cased
    names. A parameter that does not parse is skipped; the first of two
    parameters of the same name wins.
    """
    main, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for match in _PARAMETER.finditer(";" + rest):
        if match["quoted"] is not None:
            param = re.sub(r"\\(.)", r"\1", match["quoted"])
        else:
            param = match["token"].strip()
        params.setdefault(match["name"].lower(), param)
    return main.strip().lower(), params


class MultipartError(ValueError):
    """A ``multipart/form-data`` body that does not follow RFC 7578."""


def parse_multipart(body: bytes, boundary: str) -> list[tuple[str, str]]:
    """Parse the text fields of a ``multipart/form-data`` body (RFC 7578).

    The body is a series of parts, each after a line ``--boundary`` and the
    last followed by ``--boundary--``. A part is headers, a blank line and
    the value. Parts that carry a file (a ``filename`` parameter) are
    skipped: this service has no use for uploads. Raises ``MultipartError``
    for a body that does not have that shape and ``UnicodeDecodeError`` for
    a value that is not UTF-8.
    """
    # RFC 2046 §5.1.1: a boundary is 1 to 70 ASCII characters.
    if not (1 <= len(boundary) <= 70 and boundary.isascii()):
        raise MultipartError("the multipart boundary must be 1 to 70 ASCII characters")
    delimiter = b"--" + boundary.encode("ascii")
    # Anything before the first delimiter is a preamble, to be ignored.
    start = body.find(delimiter)
    if start == -1:
        raise MultipartError("the multipart body has no boundary line")
    end = body.find(b"\r\n" + delimiter + b"--", start)
    if end == -1:
        raise MultipartError("the multipart body has no closing boundary")
    pairs = []
    # Each part runs from the end of one delimiter line to the CRLF before
    # the next; the first part starts right after the first delimiter.
    for part in body[start + len(delimiter) : end].split(b"\r\n" + delimiter):
        if not part.startswith(b"\r\n"):
            raise MultipartError("a multipart boundary line is not followed by CRLF")
        head, separator, value = part[2:].partition(b"\r\n\r\n")
        if not separator:
            # A part with no headers starts with the blank line right away.
            if not part[2:].startswith(b"\r\n"):
                raise MultipartError("a multipart part has no blank line after its headers")
            head, value = b"", part[4:]
        name, is_file = _part_name(head.decode("utf-8"))
        if not is_file:
            pairs.append((name, value.decode("utf-8")))
    return pairs


def _part_name(head: str) -> tuple[str, bool]:
    """Return the field name from a part's headers, and whether it is a file."""
    for line in head.split("\r\n"):
        header, _, value = line.partition(":")
        if header.strip().lower() == "content-disposition":
            kind, params = parse_header_value(value)
            if kind == "form-data" and "name" in params:
                return params["name"], "filename" in params
    raise MultipartError("a multipart part has no Content-Disposition: form-data name")


# --- content negotiation ----------------------------------------------------

# RFC 9110 §12.4.2: a weight is "0" to "1" with at most three decimals, so
# weights are kept as whole thousandths (q=0.8 is 800): no float rounding.
_QVALUE = re.compile(r"0(?:\.\d{0,3})?|1(?:\.0{0,3})?")
# A media type or range: type/subtype, each a token; "*/*" and "text/*".
_MEDIA_RANGE = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+/[!#$%&'*+.^_`|~0-9a-z-]+")


def parse_accept(header: str) -> list[tuple[str, int]]:
    """Parse an ``Accept`` header into ``(media range, weight)`` pairs, in order.

    RFC 9110 §12.5.1: the header is a comma-separated list of media ranges
    (``text/html``, ``text/*``, ``*/*``), each with parameters after ``;``,
    of which ``q`` is the weight: how much the client wants that type, from
    0 (not at all) to 1 (the default). The weight is returned in thousandths.
    Ranges are lower-cased, since media types are case-insensitive.

    One malformed element costs only itself, as a bad cookie pair does: a
    range that is not ``type/subtype``, a ``*/subtype``, or a ``q`` that is
    not a valid weight (``q=high``, ``q=2``) is skipped. Skipping, rather
    than reading a bad ``q`` as 1, keeps a typo from raising a type's weight.
    Parameters other than ``q`` (``text/html;level=1``) are not kept: our
    representations have none a client could choose between.
    """
    ranges = []
    for element in header.split(","):
        media_range, _, parameters = element.partition(";")
        media_range = media_range.strip().lower()
        # "*/html" matches the grammar's shape but means nothing.
        wildcard_type = media_range.startswith("*/") and media_range != "*/*"
        if not _MEDIA_RANGE.fullmatch(media_range) or wildcard_type:
            continue
        weight = _weight(parameters)
        if weight is not None:
            ranges.append((media_range, weight))
    return ranges


def _weight(parameters: str) -> int | None:
    """Return the ``q`` of one element's parameters in thousandths, or ``None`` if malformed."""
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() != "q":
            continue
        value = value.strip()
        if not _QVALUE.fullmatch(value):
            return None
        # "0.8" is 0 and "8", so 800; "1." is 1000.
        whole, _, decimals = value.partition(".")
        return int(whole) * 1000 + int(decimals.ljust(3, "0"))
    return 1000  # RFC 9110 §12.4.2: no q means q=1


def weight_of(media_type: str, ranges: list[tuple[str, int]]) -> int:
    """Return how much a client that sent ``ranges`` wants ``media_type``, in thousandths.

    RFC 9110 §12.5.1: "Media ranges can be overridden by more specific
    media ranges or specific media types. If more than one media range
    applies to a given type, the most specific reference has precedence."
    So ``text/html`` beats ``text/*``, which beats ``*/*``. Of two equally
    specific ranges the first wins, as it does for form fields and cookies.
    A type that no range matches is not acceptable: weight 0.
    """
    kind = media_type.split("/")[0]
    for candidate in (media_type, f"{kind}/*", "*/*"):
        for media_range, weight in ranges:
            if media_range == candidate:
                return weight
    return 0


def best_match(header: str, offers: list[str]) -> str:
    """Return the offer the ``Accept`` header prefers; on a tie, the first offer.

    ``offers`` are our representations in our own order of preference. The
    client's weights decide; where they are equal (``*/*`` weighs every type
    the same) or the header is missing, empty or all malformed, our order
    decides. When the client accepts none of them, RFC 9110 §12.5.1 allows
    answering with a default "as if the field were absent" rather than 406:
    the first offer again.
    """
    if header.strip() in ("", "*/*"):
        # No Accept, or curl's and requests' "*/*", which weighs every offer
        # the same: our order decides, without parsing anything.
        return offers[0]
    ranges = parse_accept(header)
    best, best_weight = offers[0], weight_of(offers[0], ranges)
    for offer in offers[1:]:
        weight = weight_of(offer, ranges)
        # Strictly greater: a tie keeps the earlier offer.
        if weight > best_weight:
            best, best_weight = offer, weight
    return best


# --- Host -------------------------------------------------------------------


def host_name(authority: str) -> str:
    """Return the host name of a ``Host`` header or a URL's authority, without the port.

    RFC 9110 §7.2: ``Host = uri-host [ ":" port ]``, where an IPv6 address
    is in brackets (RFC 3986 §3.2.2), which keep its colons apart from the
    port's. Host names are case-insensitive, and ``example.com.``, the
    root's dot written out, is ``example.com``.
    """
    authority = authority.strip().lower()
    if authority.startswith("["):
        address, bracket, _port = authority.partition("]")
        return address + bracket
    return authority.partition(":")[0].rstrip(".")


# --- cookies ----------------------------------------------------------------

# What separates two pairs of a Cookie header (see parse_cookie): a pattern
# for re.split, shared with serve.py --trace, which masks pair by pair.
COOKIE_SEPARATORS = "[;,]"


def parse_cookie(header: str) -> list[tuple[str, str]]:
    """Parse a ``Cookie`` request header into ``(name, value)`` pairs.

    RFC 6265 §5.4: the header is ``name=value`` pairs separated by ``;``. We
    read it one pair at a time, splitting on the first ``=`` and trimming
    white space, so that one malformed pair (``theme=light dark``, a stray
    ``;``, a pair with no ``=``) costs only itself and never hides the
    pairs around it, unlike ``http.cookies.SimpleCookie``. A pair with no
    ``=`` or an empty name is skipped; a value in double quotes is unquoted.

    A comma separates pairs too. A client may send the cookies in several
    ``Cookie`` headers: HTTP/2 allows splitting them (RFC 9113 §8.2.3), and
    a proxy may pass them on as they came. RFC 6265 §5.4 wants them joined
    with ``"; "``, but waitress, like any server that treats every header
    as a list (RFC 9110 §5.3), joins them with ``", "``. No cookie value
    may hold a comma (RFC 6265 §4.1.1's cookie-octet), so splitting on it
    loses only the tail of a value that broke that rule, never a session.
    """
    pairs = []
    for chunk in re.split(COOKIE_SEPARATORS, header):
        name, equals, value = chunk.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not name:
            continue
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        pairs.append((name, value))
    return pairs


def first_values(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Turn pairs into a dict in which the first value of each name wins.

    This is the policy for both forms and cookies. For cookies it is the one
    RFC 6265 §5.4 points to: the browser sends the cookie with the most
    specific path first.
    """
    values: dict[str, str] = {}
    for name, value in pairs:
        values.setdefault(name, value)
    return values
