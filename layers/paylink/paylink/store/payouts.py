"""Payouts: the sandbox provider's payout records, bank batch lines and issued batch files."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from paylink.core.errors import Conflict
from paylink.store.table import Table, _clean, _is_conditional_failure


class PayoutItems(Table):
    """Payouts items."""

    def record_payout(self, settlement_id: str, record: dict[str, Any]) -> dict[str, Any]:
        """The sandbox payout provider's ledger: one payout per settlement, whatever the retries.

        `record["attempt"]` replaces the record only when the one there failed at an earlier
        attempt; a paid record, or one of the same attempt, is returned as it is.
        """
        item = {"pk": f"PAYOUT#{settlement_id}", "sk": "PAYOUT", **record}
        try:
            self.client.put_item(
                TableName=self.table,
                Item=_clean(item),
                ConditionExpression="attribute_not_exists(pk) OR (#st = :failed AND attempt < :attempt)",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={":failed": "failed", ":attempt": record["attempt"]},
            )
            return record
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise
        existing = self._get(f"PAYOUT#{settlement_id}", "PAYOUT", consistent=True)
        assert existing is not None
        return existing

    def get_payout(self, settlement_id: str) -> dict[str, Any] | None:
        return self._get(f"PAYOUT#{settlement_id}", "PAYOUT", consistent=True)

    def add_batch_line(self, day: str, line: dict[str, Any]) -> dict[str, Any] | None:
        """Put attempt `line["attempt"]` of a settlement's transfer into the bank batch of `day`.

        Once per (settlement, attempt): a repeat returns the line already there. A new attempt
        goes in only after the previous one failed. None when the day's file was already issued
        (the line must wait for a later batch).
        """
        sid, attempt = str(line["settlement_id"]), int(line["attempt"])
        key = {"pk": f"PAYOUT#{sid}", "sk": f"ATTEMPT#{attempt:04d}"}
        existing = self._get(key["pk"], key["sk"], consistent=True)
        if existing:
            return existing
        item = {**key, "gsi1pk": f"BATCH#{day}", "gsi1sk": f"{sid}#{attempt:04d}", "day": day, **line}
        checks: list[dict[str, Any]] = [
            self._put(_clean(item), condition="attribute_not_exists(pk)"),
            {
                "ConditionCheck": {
                    "TableName": self.table,
                    "Key": {"pk": f"BATCH#{day}", "sk": "FILE"},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        if attempt > 1:
            checks.append(
                {
                    "ConditionCheck": {
                        "TableName": self.table,
                        "Key": {"pk": f"PAYOUT#{sid}", "sk": f"ATTEMPT#{attempt - 1:04d}"},
                        "ConditionExpression": "#st = :failed",
                        "ExpressionAttributeNames": {"#st": "status"},
                        "ExpressionAttributeValues": {":failed": "failed"},
                    }
                }
            )
        if self._transact_once(checks):
            return line | {"day": day}
        existing = self._get(key["pk"], key["sk"], consistent=True)
        if existing:
            return existing
        if self.get_batch_file(day) is not None:
            return None
        raise Conflict(f"attempt {attempt} of {sid}: the previous attempt did not fail")

    def batch_line(self, settlement_id: str, attempt: int) -> dict[str, Any] | None:
        return self._get(f"PAYOUT#{settlement_id}", f"ATTEMPT#{attempt:04d}", consistent=True)

    def batch_lines(self, day: str) -> list[dict[str, Any]]:
        """The lines of a day's bank batch, by settlement id and attempt (a stable order)."""
        return list(self._query_all("gsi1", "gsi1pk", f"BATCH#{day}"))

    def close_batch_line(self, settlement_id: str, attempt: int, status: str, reason: str | None) -> bool:
        """The bank's answer on one line: `paid` or `failed`, once; False if it was answered before."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": f"PAYOUT#{settlement_id}", "sk": f"ATTEMPT#{attempt:04d}"},
                UpdateExpression="SET #st = :status" + (", failure_reason = :reason" if reason else ""),
                ConditionExpression="#st = :submitted",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={":status": status, ":submitted": "submitted"}
                | ({":reason": reason} if reason else {}),
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def issue_batch_file(self, day: str, record: dict[str, Any]) -> dict[str, Any]:
        """Freeze a day's bank batch file (text, count, control total); the first issue stands."""
        item = {"pk": f"BATCH#{day}", "sk": "FILE", **record}
        try:
            self.client.put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
            return record
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise
        existing = self.get_batch_file(day)
        assert existing is not None
        return existing

    def get_batch_file(self, day: str) -> dict[str, Any] | None:
        return self._get(f"BATCH#{day}", "FILE", consistent=True)

    def claim_transfer(
        self, settlement_id: str, attempt: int, record: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Claim attempt `attempt` of a settlement's API transfer before it is sent.

        Returns the record and True for the one caller that created it (or took it back from
        `unsent`, a send that provably never left); any other caller gets the record and False.
        """
        key = {"pk": f"PAYOUT#{settlement_id}", "sk": f"TRANSFER#{attempt:04d}"}
        try:
            self.client.put_item(
                TableName=self.table,
                Item=_clean({**key, **record}),
                ConditionExpression="attribute_not_exists(pk)",
            )
            return record, True
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise
        if self.update_transfer(settlement_id, attempt, expected=("unsent",), status=str(record["status"])):
            return self.transfer(settlement_id, attempt) or record, True
        existing = self.transfer(settlement_id, attempt)
        assert existing is not None
        return existing, False

    def transfer(self, settlement_id: str, attempt: int) -> dict[str, Any] | None:
        return self._get(f"PAYOUT#{settlement_id}", f"TRANSFER#{attempt:04d}", consistent=True)

    def update_transfer(
        self, settlement_id: str, attempt: int, *, expected: Sequence[str], **fields: Any
    ) -> bool:
        """Set `fields` on an API transfer attempt whose status is one of `expected`; False if it is not."""
        fields = {name: value for name, value in fields.items() if value is not None}
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": value for i, value in enumerate(fields.values())}
        allowed = {f":e{i}": status for i, status in enumerate(expected)}
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": f"PAYOUT#{settlement_id}", "sk": f"TRANSFER#{attempt:04d}"},
                UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
                ConditionExpression=f"#st IN ({', '.join(allowed)})",
                ExpressionAttributeNames={**names, "#st": "status"},
                ExpressionAttributeValues={**values, **allowed},
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True
