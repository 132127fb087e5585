"""Notify: merchant events and signed webhooks, their delivery, SMS/email to payers, and queues."""
