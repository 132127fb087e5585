"""Payments: a buyer's checkout, the gateway return, reconciliation, gateway routing and health."""
