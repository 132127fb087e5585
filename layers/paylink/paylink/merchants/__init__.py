"""Merchants: merchant accounts and API keys, payment links, coupons and invoices."""
