"""Usernames that cannot pass for a route, for us, or for another merchant.

A username is 3-30 lower-case letters, digits or `_` (paylink.merchants.accounts.USERNAME). Beyond
that, two rules:
- reserved: the panel's and the API's routes and words that would pass for us (login, admin, api,
  paylink, support...) are refused, compared in folded form (so `adm1n` and `pay_link` too);
- confusable: `fold` maps every username to a skeleton (case, Persian/Arabic digits and look-alike
  letters, 0/o, 1/l/i, rn/m, vv/w, and every run of `-`, `_`, `.` removed) and the skeleton is
  claimed in the same transaction that creates the merchant, so `ali_shop`, `alishop`, `ALI.SHOP`
  and `a1ishop` cannot all exist: the first one wins.
"""

from __future__ import annotations

import re
import unicodedata

# Routes of the panel, the API and the buyer pages, and words that would pass for the service.
RESERVED = frozenset(
    {
        "about", "account", "accounts", "admin", "administrator", "api", "app", "assets", "auth",
        "billing", "blog", "bot", "callback", "callbacks", "checkout", "contact", "dashboard",
        "docs", "download", "exports", "faq", "help", "home", "info", "invoice", "invoices",
        "link", "links", "login", "logout", "mail", "me", "merchant", "merchants", "news",
        "official", "openapi", "operator", "panel", "pay", "paylink", "paylinks", "payment",
        "payments", "payout", "payouts", "privacy", "qr", "r", "refund", "refunds", "register",
        "root", "security", "settings", "settlement", "settlements", "shaparak", "signin",
        "signout", "signup", "static", "status", "support", "system", "telegram", "terms", "test",
        "u", "user", "users", "v1", "v2", "webhook", "webhooks", "www",
    }
)  # fmt: skip

# Persian and Arabic digits, and the Arabic letters Persian keyboards write differently.
_SCRIPT = str.maketrans(
    {
        **{chr(0x06F0 + n): str(n) for n in range(10)},
        **{chr(0x0660 + n): str(n) for n in range(10)},
        "ي": "ی", "ى": "ی", "ئ": "ی", "ك": "ک", "ة": "ه", "ۀ": "ه", "أ": "ا", "إ": "ا", "آ": "ا",
        "ٱ": "ا", "ؤ": "و", "ـ": None, "\u200c": None, "\u200d": None,
    }
)  # fmt: skip
# Latin look-alikes, after case folding: one skeleton letter for each group.
_LATIN = str.maketrans({"0": "o", "1": "l", "i": "l", "|": "l", "!": "l"})
_SEPARATORS = re.compile(r"[-_.\s]+")


def fold(username: str) -> str:
    """The skeleton two look-alike usernames share (what is claimed as unique)."""
    text = unicodedata.normalize("NFKC", username).casefold().translate(_SCRIPT)
    text = "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")
    text = _SEPARATORS.sub("", text).translate(_LATIN)
    return text.replace("rn", "m").replace("vv", "w")


_RESERVED_FOLDED = frozenset(fold(word) for word in RESERVED)


def is_reserved(username: str) -> bool:
    """A route or a word that would pass for the service, in any look-alike spelling."""
    return fold(username) in _RESERVED_FOLDED
