"""The panel's money pages (issues 14 and 15): a payment's refunds and its refund form, and the page
of a large CSV export being prepared.

refund_form   GET /dashboard/payments/{id} with its refunds; POST .../refund (amount, then confirm),
              POST .../remind (a new link for a payer who has not named the card yet)
exports_page  GET /dashboard/exports/{id}: "being prepared", then the download link
strings       their Persian and English strings (merged into paylink.panel.strings)
"""
