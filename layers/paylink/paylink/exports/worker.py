"""What the export worker runs, with this process's store."""

from __future__ import annotations

from paylink.exports import jobs
from paylink.store import get_store


def run_queued(body: str, receive_count: int) -> None:
    """Run the export job of one ExportQueue message (raises when it is to be tried again)."""
    jobs.run_queued(get_store(), body, receive_count)
