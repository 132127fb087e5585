"""A transfer refund's payer side: the page's link, the card that paid, and its own payout.

The payer names the card to receive the money. It must be the card that paid: its first six and
last four digits equal the gateway's masked card and, when the gateway's verify gave a hash of the
card (Zarinpal, PayPing, SEP; not Zibal), the card hashes to it; its account is found and checked through the
inquiry provider (card to IBAN, the IBAN's owner active), and only then is the refund paid out as
its own transfer through the payout provider, under a transfer id derived from the refund, so a
repeat (a double submit, a crash and a retry) asks about the same transfer and never pays twice.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import date

from paylink.core.models import Payment, Refund, RefundStatus, Settlement, SettlementStatus, iso, utcnow
from paylink.core.observability import logger
from paylink.refunds.service import _finish, token_hash
from paylink.settlement.payouts import PayoutProvider
from paylink.store import Store

CARD = re.compile(r"^[0-9]{16}$")
# Cards that pass the mask check and go to the bank, per page link: each is a paid inquiry (two) and
# tells whether such a number exists, so the holder of a link gets a few, not the mask's 100,000.
CARD_TRIES = 5
TO_LATIN = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


class PayerError(ValueError):
    """What the payer's page shows (a stable code, the page chooses the words)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class PayerView:
    refund: Refund
    payment: Payment
    expired: bool


def view(store: Store, token: str) -> PayerView | None:
    """The refund a page token names, or None (unknown, or replaced by a reminder's)."""
    if not token or len(token) > 100:
        return None
    refund = store.refund_for_token(token_hash(token))
    if refund is None or refund.token_hash != token_hash(token):
        return None
    payment = store.get_payment(refund.payment_id)
    if payment is None:
        return None
    expired = bool(refund.expires_at and refund.expires_at < iso(utcnow()))
    return PayerView(refund, payment, expired)


def card_matches(card: str, card_mask: str | None) -> bool:
    """First six and last four digits equal the masked card the gateway reported."""
    if not card_mask:
        return False
    mask = card_mask.replace("-", "").replace(" ", "")
    return len(mask) == 16 and card[:6] == mask[:6] and card[-4:] == mask[-4:]


def card_hash_matches(card: str, card_hash: str | None) -> bool:
    """The card hashes to the gateway's hash of the paying card (SHA-256 of the 16 digits, hex in
    either case), compared in constant time. Without a hash (Zibal gives none) there is nothing to
    compare and the mask rule alone decides (docs/SECURITY.md)."""
    if not card_hash:
        return True
    typed = hashlib.sha256(card.encode("ascii")).hexdigest()
    return hmac.compare_digest(typed, card_hash.lower())


def is_paying_card(card: str, payment: Payment) -> bool:
    """The typed card is the one that paid, as far as the gateway's answer lets us tell."""
    # Both checks always run, so the answer's timing does not tell which one refused.
    by_mask = card_matches(card, payment.card_mask)
    by_hash = card_hash_matches(card, payment.card_hash)
    return by_mask and by_hash


ARABIC_FORMS = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه", "\u200c": " ", "\u200f": ""})


def _plain_name(name: str) -> str:
    """A name as compared: Arabic letter forms read as Persian, spaces (and ZWNJ) collapsed, case folded."""
    return " ".join(name.translate(ARABIC_FORMS).split()).casefold()


def same_person(card_holder: str, owners: tuple[str, ...]) -> bool:
    """The card's holder is one of the account's owners (an unnamed card holder cannot be checked)."""
    if not card_holder.strip():
        return True
    return _plain_name(card_holder) in {_plain_name(name) for name in owners}


def _pseudo_settlement(refund: Refund) -> Settlement:
    """The refund as a payout order: its own id (never a settlement's), the payer's checked IBAN."""
    return Settlement(
        id="rfd_" + refund.id.removeprefix("ref_"),
        merchant_id=refund.merchant_id,
        date=date.today().isoformat(),
        status=SettlementStatus.PENDING,
        net=refund.amount,
        gross=refund.amount,
        iban=refund.iban or "",
        payout_attempts=refund.transfer_attempts,
        created_at=refund.created_at,
    )


def submit_card(store: Store, token: str, card_number: str) -> Refund:
    """The payer's card: checked, its account checked, then the refund paid out. PayerError says why not."""
    from paylink.merchants import identity

    current = view(store, token)
    if current is None:
        raise PayerError("unknown")
    if current.refund.status is not RefundStatus.AWAITING_PAYER:
        return current.refund  # already on its way (a double submit): nothing again
    if current.expired:
        raise PayerError("expired")
    card = re.sub(r"[\s-]", "", card_number.translate(TO_LATIN))
    if not CARD.fullmatch(card) or not is_paying_card(card, current.payment):
        raise PayerError("card_mismatch")
    ttl = int(time.time()) + 8 * 86_400  # past the link's 7 days: the table's TTL cleans it up
    if not store.count_within(f"REFUNDCARDS#{current.refund.token_hash}", CARD_TRIES, ttl):
        raise PayerError("too_many")
    try:
        owner = identity.card_to_iban(card)
        account = identity.iban_owner(owner.iban)
    except identity.InquiryRejected:
        raise PayerError("card_refused") from None
    except (identity.InquiryUnavailable, ValueError):
        raise PayerError("inquiry_unavailable") from None
    if not account.active or not account.names:
        raise PayerError("account_inactive")
    if not same_person(owner.name, account.names):
        # the card's holder must own the account the money goes to (a joint or stale mapping, a
        # provider's mistake): otherwise the refund would leave for a stranger's account
        raise PayerError("card_refused")
    refund = current.refund
    # A new payout attempt: after a destination refused an earlier one, under its own transfer id.
    attempt = refund.transfer_attempts + 1
    if not store.move_refund(
        refund,
        (RefundStatus.AWAITING_PAYER,),
        RefundStatus.PENDING,
        iban=owner.iban,
        transfer_attempts=attempt,
    ):
        return store.get_refund(refund.id) or refund
    logger.info("refund payee checked; paying out", extra={"refund_id": refund.id})
    return resolve_transfer(store, store.get_refund(refund.id) or refund)


def _payout(store: Store) -> PayoutProvider:
    from paylink.core.settings import get_settings
    from paylink.settlement.payouts import payout_provider

    settings = get_settings()
    return payout_provider(settings.payout_provider, store, stage=settings.stage)


def resolve_transfer(store: Store, refund: Refund, *, base_url: str | None = None) -> Refund:
    """Send (or ask about) the refund's transfer: the provider answers a repeat of the same attempt
    without paying again, so a crash anywhere here only means asking again. A failed attempt is
    followed by a new one (at most MAX_TRANSFER_ATTEMPTS), or, when the destination refused it, by
    a new link to the payer (where `base_url` is known; else the reconciler does it)."""
    from paylink.settlement.payouts import PayoutDeferred, PayoutStatus

    if refund.status is not RefundStatus.PENDING or not refund.iban:
        return refund
    payout = _payout(store)
    order = _pseudo_settlement(refund)
    try:
        receipt = payout.submit(order, attempt=refund.transfer_attempts, day=order.date)
    except PayoutDeferred:
        return refund
    if receipt.confirmed:
        return _finish(store, refund, RefundStatus.SUCCEEDED)
    outcome = payout.status(order)
    if outcome is PayoutStatus.PAID:
        return _finish(store, refund, RefundStatus.SUCCEEDED)
    if outcome is PayoutStatus.FAILED:
        return _after_failed_attempt(store, payout, refund, payout.failure_reason(order), base_url)
    return refund


# A payout failure that names the destination itself (Jibit's failReason texts and error codes are
# not published: these are the ones its API and our sandboxes give; any other is taken as passing).
DESTINATION_REFUSED = re.compile(
    r"destination_invalid|account is closed|account closed|refused the account|iban.{0,20}invalid",
    re.IGNORECASE,
)
MAX_TRANSFER_ATTEMPTS = 3
GAVE_UP = "the bank did not make the transfer"


def destination_refused(reason: str | None) -> bool:
    """True when a failed payout says its destination account cannot take it (retrying it would
    fail again): the payer is asked again instead."""
    return bool(reason and DESTINATION_REFUSED.search(reason))


def _after_failed_attempt(
    store: Store, payout: PayoutProvider, refund: Refund, reason: str | None, base_url: str | None
) -> Refund:
    """Attempt n failed (final at the provider). Destination refused: a new link to the payer.
    Otherwise attempt n + 1 under its own transfer id, sent once; past the limit, the refund fails
    (its amount goes back to the merchant's balance)."""
    from paylink.settlement.payouts import PayoutDeferred

    said = reason or GAVE_UP
    if refund.transfer_attempts >= MAX_TRANSFER_ATTEMPTS:
        return _finish(
            store, refund, RefundStatus.FAILED, f"{GAVE_UP} after {refund.transfer_attempts} attempts: {said}"
        )
    if destination_refused(reason):
        if base_url is None:
            return refund  # a new link needs the site's address: the reconciler asks the payer
        return _ask_payer_again(store, refund, said, base_url)
    if not store.next_transfer_attempt(refund, said):
        return store.get_refund(refund.id) or refund  # another caller moved it on
    logger.info(
        "refund payout failed; sending a new attempt",
        extra={"refund_id": refund.id, "attempt": refund.transfer_attempts + 1},
    )
    fresh = store.get_refund(refund.id) or refund
    order = _pseudo_settlement(fresh)
    try:
        receipt = payout.submit(order, attempt=fresh.transfer_attempts, day=order.date)
    except PayoutDeferred:
        return fresh
    return _finish(store, fresh, RefundStatus.SUCCEEDED) if receipt.confirmed else fresh


def _ask_payer_again(store: Store, refund: Refund, reason: str, base_url: str) -> Refund:
    from paylink.refunds.service import LINK_LIFETIME, send_payer_link

    token = secrets.token_urlsafe(24)
    if not store.ask_payer_again(refund, token_hash(token), iso(utcnow() + LINK_LIFETIME), reason):
        return store.get_refund(refund.id) or refund
    logger.info("refund destination refused; the payer is asked again", extra={"refund_id": refund.id})
    fresh = store.get_refund(refund.id) or refund
    payment = store.get_payment(refund.payment_id)
    if payment is not None:
        send_payer_link(payment, fresh, token, base_url)
    return fresh
