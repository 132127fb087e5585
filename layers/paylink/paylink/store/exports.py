"""Export jobs: created once per id, claimed by the export worker, finished once."""

from __future__ import annotations

from typing import Any

from paylink.exports.model import ExportJob, ExportStatus
from paylink.store.table import Table, _clean, _is_conditional_failure, _plain


class ExportItems(Table):
    """Export job items (`EXPORT#{id}/EXPORT`, TTL)."""

    def add_export_job(self, job: ExportJob) -> tuple[ExportJob, bool]:
        """Store a new job; the job already stored under its id (and False) when there is one."""
        item = {"pk": f"EXPORT#{job.id}", "sk": "EXPORT", **_clean(job.model_dump(mode="json"))}
        try:
            self.client.put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise
            existing = self.get_export_job(job.id)
            if existing is None:  # gone between the two calls (its TTL): nothing to share
                raise
            return existing, False
        return job, True

    def get_export_job(self, job_id: str) -> ExportJob | None:
        item = self._get(f"EXPORT#{job_id}", "EXPORT", consistent=True)
        return ExportJob.model_validate(item) if item else None

    def claim_export_job(self, job_id: str) -> ExportJob | None:
        """Mark a pending job running (or a running one again: a retry); None when done or failed."""
        return self._update_export(
            job_id,
            "SET #s = :running, attempts = if_not_exists(attempts, :zero) + :one",
            "#s IN (:pending, :running)",
            {":pending": ExportStatus.PENDING.value, ":zero": 0, ":one": 1},
        )

    def note_export_progress(self, job_id: str, *, upload_id: str | None, rows: int, size: int) -> None:
        """The running attempt's upload id and how much it has sent so far."""
        values: dict[str, Any] = {":rows": rows, ":bytes": size}
        expression = "SET #rows = :rows, #bytes = :bytes"
        if upload_id:
            expression += ", upload_id = :upload"
            values[":upload"] = upload_id
        self._update_export(job_id, expression, "#s = :running", values)

    def finish_export_job(
        self, job_id: str, status: ExportStatus, *, rows: int, size: int, at: str, error: str | None = None
    ) -> ExportJob | None:
        """Done or failed, once: None when the job was not running (a duplicate finished it)."""
        expression = "SET #s = :status, #rows = :rows, #bytes = :bytes, finished_at = :at REMOVE upload_id"
        values: dict[str, Any] = {":status": status.value, ":rows": rows, ":bytes": size, ":at": at}
        if error:
            expression = expression.replace(" REMOVE", ", #error = :error REMOVE")
            values[":error"] = error
        return self._update_export(job_id, expression, "#s = :running", values)

    def _update_export(
        self, job_id: str, expression: str, condition: str, values: dict[str, Any]
    ) -> ExportJob | None:
        names = {"#s": "status", "#rows": "rows", "#bytes": "bytes", "#error": "error"}
        used = {k: v for k, v in names.items() if k in expression or k in condition}
        try:
            answer = self.client.update_item(
                TableName=self.table,
                Key={"pk": f"EXPORT#{job_id}", "sk": "EXPORT"},
                UpdateExpression=expression,
                ConditionExpression=f"attribute_exists(pk) AND {condition}",
                ExpressionAttributeNames=used,
                ExpressionAttributeValues={":running": ExportStatus.RUNNING.value, **values},
                ReturnValues="ALL_NEW",
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return None
            raise
        return ExportJob.model_validate(_plain(answer["Attributes"]))
