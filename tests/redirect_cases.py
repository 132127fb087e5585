"""Merchant redirect_url cases shared by the unit and the HTTP tests of open redirects."""

from __future__ import annotations

# Each merchant redirect_url that must never be where we send a buyer.
HOSTILE_REDIRECTS = {
    "scheme-relative": "//evil.example/",
    "userinfo": "https://gw@evil.example/",
    "userinfo-with-password": "https://pay.example.com:x@evil.example/",
    "no-slashes": "https:evil.example",
    "slash-backslash": "https:/\\evil.example",
    "backslash-host": "https://evil.example\\@shop.example/",
    "backslash-path": "https://shop.example\\..\\evil",
    "http": "http://shop.example/thanks",
    "javascript": "javascript:alert(document.cookie)",
    "javascript-upper": "JAVASCRIPT:alert(1)",
    "data": "data:text/html,<script>alert(1)</script>",
    "crlf": "https://shop.example/\r\nSet-Cookie: a=b",
    "lf": "https://shop.example/a\nb",
    "tab-in-host": "https://shop\t.example/",
    "nul": "https://shop.example/\x00",
    "space": "https://shop.example/a b",
    "leading-space": " https://shop.example/",
    "encoded-crlf": "https://shop.example/done%0d%0aSet-Cookie:%20a=b",
    "encoded-crlf-upper": "https://shop.example/done?x=%0D%0A",
    "encoded-nul": "https://shop.example/%00",
    "encoded-del": "https://shop.example/%7f",
    "bidi-override": "https://shop.example/\u202egnp.exe",
    "zero-width-in-host": "https://sho\u200bp.example/",
    "unicode-homoglyph-host": "https://p\u0430y.example.com/",  # Cyrillic a
    "unicode-host": "https://shöp.example/",
    "bad-punycode": "https://xn--zz.example/",
    "ipv4": "https://127.0.0.1/thanks",
    "ipv4-decimal": "https://2130706433/",
    "ipv6": "https://[::1]/",
    "single-label": "https://localhost/",
    "trailing-dot": "https://shop.example./",
    "label-with-underscore": "https://shop_x.example/",
    "port-not-a-number": "https://shop.example:99999/",
    "no-host": "https:///nohost",
    "quote": 'https://shop.example/"onmouseover="x',
    "angle": "https://shop.example/<script>",
}

# Merchant redirect_urls that are kept exactly as given.
FINE_REDIRECTS = {
    "plain": "https://shop.example/thanks",
    "query-and-fragment": "https://shop.example/thanks?order=7&x=%20y#done",
    "port": "https://shop.example:8443/ok",
    "punycode-idn": "https://xn--mgbh0fb.xn--mgba3a4f16a/",  # a Persian name under .ایران
    "merchant-look-alike": "https://scarf-sh0p.example/",  # a merchant's own brand is its own business
    "encoded-space": "https://shop.example/a%20b",
}


def look_alikes_of(ours: str) -> dict[str, str]:
    """Hosts that imitate our own host `ours` (e.g. "pay.example.com"): refused."""
    first, _, rest = ours.partition(".")
    homoglyph = first.replace("a", "\u0430", 1).encode("idna").decode()  # Cyrillic a, punycoded
    return {
        "punycode-homoglyph-of-ours": f"https://{homoglyph}.{rest}/",
        "digit-look-alike-of-ours": f"https://{ours.replace('l', '1').replace('o', '0')}/",
        "letter-look-alike-of-ours": f"https://{ours.replace('l', 'i')}/",
        "rn-look-alike-of-ours": f"https://{ours.replace('m', 'rn')}/",
        "ours-in-front": f"https://{ours}.evil.example/",
    }


def ours_and_below(ours: str) -> dict[str, str]:
    """Our own host and its subdomains: not look-alikes, so taken."""
    return {"our-own-host": f"https://{ours}/r/pay_1", "our-subdomain": f"https://shop.{ours}/"}
