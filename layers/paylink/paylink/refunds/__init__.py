"""Refunds: money given back for a payment, exactly once, to the card that paid (DESIGN section 9).

`service` decides and starts a refund (reverse or transfer), `payer` is the payer's page flow for a
transfer (card check, inquiry, payout, a failed payout sent again or the payer asked again),
`progress` is what the reconciler does with refunds nobody reads (every 5 minutes), `ledger` is the
merchant balance a settlement nets them from.
"""
