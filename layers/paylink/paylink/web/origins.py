"""Where a browser may be sent, and which form posts we take: origins compared, nothing else.

Pure functions over strings (the standard library only), cheap enough for the click path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters a URL we send a browser to must never hold: controls (raw or percent-encoded, which a
# later decode would turn into header or log injection), whitespace, backslashes (browsers read them
# as '/'), quotes and angle brackets, and invisible Unicode formatting (bidi marks, separators).
UNSAFE_URL = re.compile(
    r"[\x00-\x20\x7f-\x9f\\\"'<>`\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]"
    r"|%(?:[01][0-9a-fA-F]|7[fF])"
)


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an absolute http(s) URL, lowercased, the default port dropped;
    None for anything else (relative, scheme-relative, other schemes, userinfo, unsafe characters)."""
    if not isinstance(url, str) or UNSAFE_URL.search(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    if not parts.netloc.isascii():
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    shown_port = "" if port is None or port == DEFAULT_PORTS[scheme] else f":{port}"
    return f"{scheme}://{host}{shown_port}"


def stays_on(url: str, base_url: str) -> bool:
    """True when `url` is a clean absolute URL on the same origin as `base_url` (a gateway's
    configured base): the only places the checkout may send a buyer."""
    target = origin_of(url)
    return target is not None and target == origin_of(base_url)


CROSS_SITE = frozenset({"cross-site", "same-site"})
OWN_SITE = frozenset({"same-origin", "none"})


def refuses_form_post(headers: Mapping[str, str], own_origin: str) -> bool:
    """True when a form post to a buyer page must be refused as a cross-site submission.

    Fetch Metadata first: `Sec-Fetch-Site` cross-site or same-site is refused, same-origin or
    none (typed or bookmarked) taken. Without it (old browsers, curl, a merchant's server) an
    `Origin` that is present and not ours is refused, `null` included: a sandboxed frame or a
    `data:` page of any site posts `Origin: null`. Our pages send `Referrer-Policy: same-origin`
    (paylink.web.http.PAGE_REFERRER_POLICY), so a browser posting from them sends our real origin.
    """
    lowered = {str(key).lower(): str(value).strip().lower() for key, value in headers.items()}
    site = lowered.get("sec-fetch-site")
    if site in CROSS_SITE:
        return True
    if site in OWN_SITE:
        return False
    origin = lowered.get("origin")
    if not origin:
        return False
    return origin_of(origin) is None or origin_of(origin) != origin_of(own_origin)


HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# Characters that read alike (the Latin lookalikes of Cyrillic and Greek letters, digits that read as
# letters, letter pairs that read as one): enough to tell a host that imitates ours.
CONFUSABLE = str.maketrans(
    {
        **dict(zip("аеорсухіјԁѕһӏ", "aeopcyxljdshl", strict=True)),  # Cyrillic
        **dict(zip("οαντρικ", "oavtplk", strict=True)),  # Greek
        **dict(zip("01i|", "olll", strict=True)),
    }
)
CONFUSABLE_PAIRS = (("rn", "m"), ("vv", "w"), ("cl", "d"))


def redirect_url_problem(value: str, own_host: str | None = None) -> str | None:
    """Why a merchant's `redirect_url` cannot be where we send buyers, or None when it can.

    An absolute https URL with a real ASCII hostname (international names in their `xn--` form),
    no userinfo, no IP literal, no control or invisible characters (raw or percent-encoded), and
    not a host that imitates ours (`own_host`). A look-alike of the merchant's own brand is its own
    business; one of ours would let a link pass for a paylink page.
    """
    if UNSAFE_URL.search(value):
        return "must not hold spaces, control characters (raw or percent-encoded), quotes or backslashes"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return "must be an absolute https URL"
    if parts.scheme != "https" or not parts.netloc or not parts.hostname:
        return "must be an absolute https URL"
    if "@" in parts.netloc:
        return "must not carry credentials"
    if not parts.netloc.isascii():
        return "the host must be ASCII: write an international domain name in its xn-- form"
    host = parts.hostname
    labels = host.split(".")
    if len(labels) < 2 or not all(HOST_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        return "must name a real host (a domain name, not an IP address)"
    if _unicode_host(host) is None:
        return "must name a real host: an xn-- label does not decode"
    if own_host and _imitates(host, own_host.lower()):
        return "must not imitate paylink's own address"
    return None


def _imitates(host: str, ours: str) -> bool:
    """A host that reads like ours but is not ours or one of its subdomains, or that puts ours in
    front of another domain (`pay.example.evil.test`)."""
    if host == ours or host.endswith(f".{ours}"):
        return False
    if host.startswith(f"{ours}."):
        return True
    return _skeleton(host) == _skeleton(ours)


def _unicode_host(host: str) -> str | None:
    """The host as people read it (its `xn--` labels decoded); None when a label does not decode."""
    labels = []
    for label in host.split("."):
        if label.startswith("xn--"):
            try:
                label = label.encode("ascii").decode("idna")
            except UnicodeError:
                return None
        labels.append(label)
    return ".".join(labels)


def _skeleton(host: str) -> str:
    import unicodedata

    text = unicodedata.normalize("NFKC", _unicode_host(host) or host).casefold().translate(CONFUSABLE)
    for pair, single in CONFUSABLE_PAIRS:
        text = text.replace(pair, single)
    return text
