"""Refunds: money given back for a payment, exactly once, to the card that paid (DESIGN section 9).

`service` decides and starts a refund (reverse or transfer), `payer` is the payer's page flow for a
transfer (card check, inquiry, payout), `ledger` is the merchant balance a settlement nets them from.
"""
