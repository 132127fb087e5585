"""An export job as stored: what to export for whom, and how far the export worker has got."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel

Kind = Literal["payments", "settlements", "settlement_payments"]


class ExportStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ExportJob(BaseModel):
    id: str
    merchant_id: str
    kind: Kind
    filters: dict[str, str] = {}
    filename: str
    status: ExportStatus = ExportStatus.PENDING
    rows: int = 0
    bytes: int = 0
    attempts: int = 0
    upload_id: str | None = None  # the multipart upload of the attempt under way (a retry aborts it)
    error: str | None = None
    created_at: str
    finished_at: str | None = None
    ttl: int  # epoch seconds: gone after this (the bucket drops its object after a day too)

    @property
    def key(self) -> str:
        """The object's key: the same job always writes the same object (a retry overwrites it)."""
        return f"exports/{self.merchant_id}/{self.id}/{self.filename}"
