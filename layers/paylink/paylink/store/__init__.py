"""The only package that talks to DynamoDB: one module per kind of item over one table helper.

One table, keys `pk`/`sk`, three overloaded GSIs (see template.yaml):
  MERCHANT#{id}/PROFILE      merchant
  USERNAME#{u}/USERNAME      username -> merchant id (uniqueness)
  APIKEY#{sha256}/APIKEY     hashed API key -> merchant id; with its id, name, last 4, created/last
                             used/revoked dates on gsi1 MERCHANT#{id}#APIKEYS/{created_at}#{key id}
                             (a key made before ids is adopted on first use; revoked: TTL 30 days);
                             the profile counts active keys in `api_keys_active`
  WEBHOOK#{event_id}/DELIVERY  an event's delivery tries and last answer (TTL 7 days);
                             gsi1 MERCHANT#{id}#WEBHOOKS/{event created}#{event id}
  UNSENT#{event_id}/UNSENT   an event the notify queue refused, for the reconciler to queue (TTL 7 days);
                             gsi1 UNSENT#{shard}/{kept at}#{event id}
  LINK#{code}/LINK           link; gsi1 MERCHANT#{id}#LINKS/{created_at}#{code}
  COUPON#{mid}#{code}/COUPON    coupon with its uses counter; gsi1 MERCHANT#{id}#COUPONS/{created_at}#{code}
  LINK#{code}/LINK           an invoice with a due date is also on gsi2 DUE#{due_date}/{code}
  REMINDER#{code}/{reminder}    an invoice reminder already sent (before_1, after_1, after_3)
  LINK#{code}/LINK           an invoice in installments holds its schedule (`installments`: number,
                             amount, due_date, payment_id and paid_at once paid) and open_slots 1
  INSTALLMENTS_DUE#{date}/{code}#{nn}  installment nn of invoice `code` falls due that day (the
                             reminders' work list, gsi1 too); reminders: REMINDER#{code}/{n}:{reminder}
                             and REMINDER#{code}/{n}:overdue (the installment.overdue event, once)
  SENDS#{mid}#{day}/MERCHANT, SENDS#{mid}#{day}/LINK#{code}  invoice sends counted per day (TTL);
                             SENDS#{mid}#{day}/TO#{digest}: per recipient (a phone's or address's digest)
  REMINDSLOTS#{mid}#{day}/{nnnnn}  a merchant's reminders of the day, one numbered slot each (TTL);
                             REMINDSLOTS#{mid}#{day}#TO#{digest}/{nnnnn} the same to one recipient
  PAYMENT#{id}/PAYMENT       payment; gsi2 MERCHANT#{id}#PAYMENTS (by created_at; a link's payments are
                             that list filtered by link_code: no gsi1 entry since issue 18),
                             gsi3 UNSETTLED#{shard}/{merchant id}#{paid_at}#{id} once paid (16
                             shards by merchant: the settle run finds its merchants from these
                             keys, issue 18), then SETTLEMENT#{sid} once settled
  GWTOKEN#{gw}#{token}/GWTOKEN  gateway token -> payment id; only for gateways whose return does not
                                name our order id (Zarinpal, PayPing): Zibal's and SEP's returns are
                                matched by payment id + token (issue 18)
  SETTLEMENT#{sid}/SETTLEMENT   settlement; gsi1 MERCHANT#{id}#SETTLEMENTS/{date}
  DAILY#{mid}#{date}/DAILY      a merchant's amount reserved for a calendar day (daily cap; TTL two days)
  HOLD#{mid}#{date}#{client}/HOLD  one client's open payments at a merchant that day (count, rials;
                                   client = hashed source address (IPv6: its /64); TTL two days)
  SETTLEMENT#{sid}/SETTLEMENT   also gsi3 PAYOUTS_DUE#{shard}/{merchant id}#{date}#{sid} until it is paid
  PAYOUT#{sid}/PAYOUT           the sandbox payout provider's record (one per settlement)
  PAYOUT#{sid}/ATTEMPT#{n}      a bank batch line, attempt n; gsi1 BATCH#{day}/{sid}#{n}
  PAYOUT#{sid}/TRANSFER#{n}     attempt n of an API payout (settlement.jibit_payout), claimed before sending
  BATCH#{day}/FILE              a bank batch file as issued to the operator (immutable)
  GATEWAY#{name}/CIRCUIT        a gateway's circuit breaker
  GATEWAY#{name}/HEALTH#{minute}  a gateway's outcomes in one minute (TTL one day)
  GWREF#{gw}#{reference}/GWREF  a gateway reference already credited (no reference credits twice; TTL
                                90 days); only where verify takes the return's reference (SEP, PayPing)
  GWREF#{gw}#{reference}/CLAIM  the payment whose return first carried that reference (the only
                                payment it may ever verify, credit or reverse)
  RETURN#{gw}#{day}/{time}#{n}  a gateway return that changed nothing (forged, unknown, mismatched)
  EXPORT#{id}/EXPORT            a CSV export job (paylink.exports.jobs): what to export for which
                                merchant, status, rows, bytes, the running upload; TTL one day
  IDEMPOTENCY#{merchant_id}/merchant-api#{sha256}  a merchant request's Idempotency-Key record
                                   (Powertools; TTL one day; one partition per merchant, no hot key)
  TGTOKEN#{sha256}/TGTOKEN   a one-time Telegram link token (hashed) -> merchant id, until expires_at (TTL)
  TGCHAT#{chat_id}/TGCHAT    a chat linked to a merchant's bot notices and commands;
                             gsi1 MERCHANT#{id}#TGCHATS/{linked_at}#{chat_id}
  TGUPDATE#{update_id}/TGUPDATE  a Telegram update already handled (TTL two days)
  TGNOTICE#{event_id}/CHAT#{chat_id}  a merchant event announced in a chat (TTL seven days)
  TGREPLY#{chat_id}#{hour}/COUNT  answers to a chat that is not linked in an hour; TGNEW#{chat_id}#{hour}
                             links made by /new in a chat, TGNEWSAID#... its limit told once (TTL)
Merchant panel sign-in (paylink.panel; {subject}, {addr}, {person}, {dev}: HMAC-SHA256 under the
panel key (PanelKeyParameter) of the phone, a source address, a national code, a device id):
  OTP#{subject}/OTP             the phone's current one-time code for strangers: salted hash, expiry,
                                tries, used_at (TTL); OTP#{subject}/OTP#DEV#{dev} a trusted device's own
  OTPLOCK#{subject}/LOCK        a phone locked after too many wrong codes, until a time (TTL);
                                OTPLOCK#DEV#{dev}/LOCK a trusted device locked the same way
  OTPDAY#{subject}#{tehran date}/COUNT, OTPDAY#DEV#{dev}#{date}/COUNT  codes per phone (strangers)
                                and per trusted device per Tehran day (TTL); OTPDEVDAY#{subject}#{date}/COUNT
                                all of a phone's trusted devices together that day
  OTPSEND#{subject}#{window}/COUNT, OTPSEND#IP#{addr}#{window}/COUNT  codes sent per phone (a
                                trusted device: OTPSEND#DEV#{dev}#...) and per source address (strangers
                                only) in a window (conditional counters, TTL)
  OTPFAIL#{subject}#{window}/COUNT  wrong codes typed for a phone (or OTPFAIL#DEV#{dev}#...) in a
                                lock window (TTL)
  OTPGLOBAL#{hour}#{shard}/COUNT  sign-in codes the whole deployment sent in an hour, 10 shards each
                                holding its share of SigninCodesPerHour (TTL)
  SIGNUPINQ#{subject}#{day}/COUNT  sign-up tries of a phone that reached the paid inquiries (TTL)
  REFUNDCARDS#{token_hash}/COUNT   cards a refund page link sent to the bank inquiries (TTL)
  REFUNDCOUNT#{payment_id}/COUNT  refunds a payment took (written with each refund; at most 50)
  COUPONTRY#{merchant_id}#{client}#{hour}/COUNT  coupon codes a client (hashed address or /64) tried (TTL)
  WEBHOOKTEST#{merchant_id}#{hour}/COUNT  test events a merchant asked for in an hour (TTL)
  SESSION#{sha256}/SESSION      a panel session by its hashed id: subject, created_at, last_seen,
                                ended_at; gsi1 SESSIONS#{subject}/{created_at} until ended (TTL)
  PHONE#{subject}/MERCHANT      phone -> merchant id (one merchant per phone)
  PERSON#{person}/PERSON        national code -> merchant id (one personal account per person), claimed
                                in the transaction that creates the merchant
  USERFOLD#{skeleton}/USERFOLD  a username's look-alike skeleton (paylink.merchants.usernames.fold) ->
                                merchant id, claimed with USERNAME#: no two look-alike usernames
Refunds (paylink.refunds, store/refunds.py):
  PAYMENT#{id}/PAYMENT          also `refundable` (what is left to refund) and `amount_refunded`: the
                                conditional counter every refund takes from in its transaction
  REFUND#{rid}/REFUND           refund; gsi1 PAYMENT#{pid}#REFUNDS/{created_at}#{rid}, gsi3
                                MERCHANT#{id}#REFUNDS_DUE/{created_at}#{rid} until a settlement nets it
  REFUNDTOKEN#{sha256}/REFUNDTOKEN  the payer's refund page token (hashed) -> refund id
  MERCHANT#{id}/BALANCE         the merchant's balance (paylink.settlement.ledger): `claims` (refunds
                                not netted + refunds netted in open settlements + `owed`), `owed` (what
                                refunds left owing after its last closed settlement, carried), `version`
                                (bumped by every close; every refund's transaction conditions on it and
                                on claims staying within what the ledger covers); gsi1 UNSETTLED/{id}
                                while a refund waits to be netted (the settle run's list, as payments)
  LEDGER#{type}#{object id}/LEDGER  a ledger entry: refund (-), reversal (+, a refund that failed),
                                payout (-net, at a settlement's close); gsi1 MERCHANT#{id}#LEDGER/
                                {at}#{type}#{object id}; payment and fee entries are the payment items
                                themselves (gsi2 MERCHANT#{id}#PAYMENTS)
  PAYOUT#{rfd_...}/TRANSFER#{n}  a refund's own payout transfer (settlement.jibit_payout, id from the refund)
  REFUND#{rid}/REFUND           also gsi2 REFUNDWORK#{shard}/{due}#{rid} while pending (due a minute
                                after) or awaiting its payer (due when the link expires): the
                                reconciler's refund work list (paylink.refunds.progress), 4 shards;
                                `next_check_at`: before it, reads show the stored state (one read in
                                30 s may ask the provider: service.resolve_on_read)
While a payment is undecided, gsi3 holds PENDING#{shard}/{created_at}#{id}: the
reconciler's work list, spread over PENDING_SHARDS partitions.
The payment archive (paylink.payments.archive, store/payments.py; issue 18):
  ARCHIVE#{sid}/ARCHIVE         a settlement on the archive's work list; gsi1 ARCHIVE_DUE/{due day}#{sid}
                                (due 31 days after its business day), deleted once none of its
                                payments is left in the table
  PAYMENT#{id}/PAYMENT          once archived, a stub: only `archived` = the settlement id whose S3
                                object (payments/{merchant}/{day}/{sid}.jsonl.gz) holds the payment;
                                in no index (get_payment answers None; archive.find_payment reads it)

Each module below holds the reads and writes of one kind of item as a mixin over
paylink.store.table.Table; Store is composed of them, so callers see one `store.x(...)` API.
"""

from __future__ import annotations

from functools import cache

from paylink.core.settings import get_settings
from paylink.store.api_keys import ApiKeyItems
from paylink.store.coupons import CouponItems
from paylink.store.exports import ExportItems
from paylink.store.gateways import GatewayItems
from paylink.store.links import LinkItems
from paylink.store.merchants import MerchantItems
from paylink.store.notices import TelegramItems, WebhookItems
from paylink.store.panel import PanelItems
from paylink.store.payments import PaymentItems
from paylink.store.payouts import PayoutItems
from paylink.store.refunds import RefundItems
from paylink.store.settlements import SettlementItems


class Store(
    MerchantItems,
    ApiKeyItems,
    WebhookItems,
    LinkItems,
    CouponItems,
    GatewayItems,
    PaymentItems,
    SettlementItems,
    PayoutItems,
    TelegramItems,
    PanelItems,
    ExportItems,
    RefundItems,
):
    """DynamoDB access for every flow; methods say what they do in domain words."""


@cache
def get_store() -> Store:
    """The process-wide store; boto3 is imported and its client made on first use, then reused."""
    import boto3

    settings = get_settings()
    resource = boto3.resource("dynamodb", endpoint_url=settings.dynamodb_endpoint_url)
    return Store(settings.table_name, resource.meta.client)
