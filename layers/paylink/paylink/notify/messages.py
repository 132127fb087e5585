"""Messages to payers: one Notifier interface, SMS through Kavenegar (paylink.notify.kavenegar,
PAYLINK_SMS_PROVIDER=kavenegar) or Amazon SNS (sns), and email through Amazon SES.

boto3 is imported, and each client made, on the first message (never on import), then reused.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, Protocol

from paylink.core.settings import get_settings

# 09xxxxxxxxx, +989..., 00989..., 989... (ASCII digits: `\d` would take any script's digits).
IRAN_MOBILE = re.compile(r"(?:\+98|0098|98|0)?(9[0-9]{9})")
# Persian and Arabic-Indic digits, as a phone may be typed in Iran.
EASTERN_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "0123456789" * 2)


class Notifier(Protocol):
    def send(self, to: str, subject: str, text: str) -> None: ...


def iran_mobile(phone: str | None) -> str | None:
    """An Iranian mobile number in E.164 (+989...), or None for any other number (or none)."""
    digits = re.sub(r"[\s\-().]", "", str(phone or "").translate(EASTERN_DIGITS))
    match = IRAN_MOBILE.fullmatch(digits)
    return f"+98{match.group(1)}" if match else None


def e164(phone: str) -> str:
    """An Iranian mobile as SNS wants it (+989...); ValueError for any other number: SMS goes to
    Iranian mobiles only (an international number is how SMS pumping bills us)."""
    mobile = iran_mobile(phone)
    if mobile is None:
        raise ValueError("SMS goes only to an Iranian mobile number")
    return mobile


class SmsNotifier:
    """Transactional SMS through SNS `publish`; the subject is not sent (SMS has none)."""

    def __init__(self, sender_id: str = "", endpoint_url: str | None = None) -> None:
        self.sender_id = sender_id
        self.endpoint_url = endpoint_url
        self._client: Any = None

    def send(self, to: str, subject: str, text: str) -> None:
        if self._client is None:
            import boto3

            self._client = boto3.client("sns", endpoint_url=self.endpoint_url)
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        if self.sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": self.sender_id}
        self._client.publish(PhoneNumber=e164(to), Message=text, MessageAttributes=attributes)


class EmailNotifier:
    """Plain-text email through SES `send_email` from the configured sender address."""

    def __init__(self, sender: str, endpoint_url: str | None = None) -> None:
        self.sender = sender
        self.endpoint_url = endpoint_url
        self._client: Any = None

    def send(self, to: str, subject: str, text: str) -> None:
        if not self.sender:
            raise RuntimeError("PAYLINK_EMAIL_SENDER is not set: no email can be sent")
        if self._client is None:
            import boto3

            self._client = boto3.client("ses", endpoint_url=self.endpoint_url)
        self._client.send_email(
            Source=self.sender,
            Destination={"ToAddresses": [to]},
            Message={
                "Subject": {"Data": subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
            },
        )


@cache
def notifiers() -> dict[str, Notifier]:
    """The process-wide notifiers by channel name: `sms` always (Kavenegar or SNS, by
    PAYLINK_SMS_PROVIDER), `email` only with a sender address
    (a deployment without one does not offer email: callers check the channel is here)."""
    settings = get_settings()
    sms: Notifier
    if settings.sms_provider == "kavenegar":
        from paylink.notify.kavenegar import KavenegarNotifier

        sms = KavenegarNotifier()
    elif settings.sms_provider == "sns":
        sms = SmsNotifier(settings.sms_sender_id, settings.notify_endpoint_url)
    else:
        raise RuntimeError(f"PAYLINK_SMS_PROVIDER must be kavenegar or sns, not {settings.sms_provider!r}")
    found: dict[str, Notifier] = {"sms": sms}
    if settings.email_sender:
        found["email"] = EmailNotifier(settings.email_sender, settings.notify_endpoint_url)
    return found
