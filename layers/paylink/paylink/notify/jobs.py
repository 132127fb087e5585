"""What the notify function runs: one queued event delivered with this process's store and queues."""

from __future__ import annotations

from paylink.core.settings import get_settings
from paylink.notify.notifications import deliver
from paylink.notify.queues import notify_dead_letter_queue, notify_queue
from paylink.store import get_store


def deliver_queued(body: str, *, receipt_handle: str) -> None:
    """Deliver one SQS message of the notify queue (raises when the delivery is to be retried)."""
    queue = notify_queue()
    if queue is None:
        raise RuntimeError("NOTIFY_QUEUE_URL is not set")
    deliver(
        get_store(),
        body,
        receipt_handle=receipt_handle,
        queue=queue,
        dead_letters=notify_dead_letter_queue(),
        retry_scale=get_settings().webhook_retry_scale,
    )
