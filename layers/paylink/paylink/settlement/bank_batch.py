"""The bank batch payout provider: a day's transfers as one line-based file for the bank.

Each settle run adds one line per settlement it pays out to the batch of its business day
(`PAYOUT#{sid}/ATTEMPT#{n}` items). The operator issues the day's file (`issue`), which freezes it
(`BATCH#{day}/FILE`: the text, the line count, the control total, the lines it holds); transfers
submitted after that wait for the next day's batch. The operator hands the file to the bank and
records the bank's answer (`record_bank_answers`): every line paid, except those named failed.
The file format is documented in docs/BANK_BATCH.md.
"""

from __future__ import annotations

from typing import Any

from paylink.core.models import Settlement, iso, utcnow
from paylink.settlement.payouts import PayoutDeferred, PayoutReceipt, PayoutStatus
from paylink.store import Store

FORMAT = "PLBATCH"
VERSION = "1"
CURRENCY = "IRR"
ORIGINATOR = "PAYLINK"
NAME_MAX = 70  # pain.001 Cdtr/Nm allows 140; banks' batch forms commonly take 70
REMITTANCE_MAX = 140  # pain.001 RmtInf/Ustrd
MISSED_FILE = "the transfer missed its day's issued batch file"


class BatchNotIssued(Exception):
    """A day's answers were recorded before its file was issued."""


def end_to_end_id(settlement_id: str, attempt: int) -> str:
    """The line's reference (pain.001 EndToEndId, at most 35 characters): settlement id and attempt."""
    return f"{settlement_id}-{attempt}"


def _field(text: str, limit: int) -> str:
    """A field without separators or line breaks, trimmed to `limit` characters."""
    return " ".join(str(text).replace("|", " ").split())[:limit]


def render(day: str, lines: list[dict[str, Any]]) -> str:
    """The batch file of `day`: header, one transfer per line, trailer. Deterministic for its input."""
    ordered = sorted(lines, key=lambda line: (str(line["settlement_id"]), int(line["attempt"])))
    total = sum(int(line["amount"]) for line in ordered)
    out = [f"H|{FORMAT}|{VERSION}|PLB-{day.replace('-', '')}|{day}|{CURRENCY}|{ORIGINATOR}"]
    for seq, line in enumerate(ordered, start=1):
        out.append(
            "|".join(
                [
                    "D",
                    f"{seq:06d}",
                    str(line["reference"]),
                    str(line["iban"]),
                    str(int(line["amount"])),
                    _field(str(line["beneficiary"]), NAME_MAX),
                    _field(str(line["remittance"]), REMITTANCE_MAX),
                ]
            )
        )
    out.append(f"T|{len(ordered)}|{total}")
    return "\n".join(out) + "\n"


def parse(text: str) -> dict[str, Any]:
    """Read a batch file back, checking its line count and control total (what a bank does)."""
    rows = [row.split("|") for row in text.splitlines()]
    if not rows or rows[0][0] != "H" or rows[-1][0] != "T":
        raise ValueError("a batch file starts with H and ends with T")
    transfers: list[dict[str, Any]] = [
        {"seq": r[1], "reference": r[2], "iban": r[3], "amount": int(r[4]), "beneficiary": r[5]}
        for r in rows[1:-1]
        if r[0] == "D"
    ]
    count, total = int(rows[-1][1]), int(rows[-1][2])
    if count != len(transfers) or total != sum(int(t["amount"]) for t in transfers):
        raise ValueError("the trailer's count or control total does not match the lines")
    return {"day": rows[0][4], "transfers": transfers, "count": count, "total": total}


def issue(store: Store, day: str) -> dict[str, Any]:
    """The day's file, issued now from its lines or as issued before (it never changes after)."""
    existing = store.get_batch_file(day)
    if existing is not None:
        return existing
    lines = [line for line in store.batch_lines(day) if line.get("status") == PayoutStatus.SUBMITTED.value]
    text = render(day, lines)
    return store.issue_batch_file(
        day,
        {
            "day": day,
            "text": text,
            "count": len(lines),
            "total": sum(int(line["amount"]) for line in lines),
            "lines": [{"settlement_id": line["settlement_id"], "attempt": line["attempt"]} for line in lines],
            "issued_at": iso(utcnow()),
        },
    )


def record_bank_answers(store: Store, day: str, failed: dict[str, str]) -> list[str]:
    """The bank's answer on an issued file: lines of settlements in `failed` failed, the others paid.

    Returns the settlement ids whose line changed. Answers are recorded once; a repeat changes nothing.
    """
    file = store.get_batch_file(day)
    if file is None:
        raise BatchNotIssued(f"the batch of {day} was not issued")
    changed = []
    for entry in file.get("lines", []):
        sid, attempt = str(entry["settlement_id"]), int(entry["attempt"])
        reason = failed.get(sid)
        status = PayoutStatus.FAILED if reason is not None else PayoutStatus.PAID
        if store.close_batch_line(sid, attempt, status.value, reason or None):
            changed.append(sid)
    return changed


class BankBatchPayout:
    """Payout by bank batch file: submitted at once, paid or failed when the operator says."""

    name = "bank_batch"

    def __init__(self, store: Store) -> None:
        self.store = store

    def submit(self, settlement: Settlement, *, attempt: int, day: str) -> PayoutReceipt:
        merchant = self.store.get_merchant(settlement.merchant_id)
        reference = end_to_end_id(settlement.id, attempt)
        line = self.store.add_batch_line(
            day,
            {
                "settlement_id": settlement.id,
                "attempt": attempt,
                "merchant_id": settlement.merchant_id,
                "reference": reference,
                "iban": settlement.iban,
                "amount": settlement.net,
                "beneficiary": merchant.name if merchant else settlement.merchant_id,
                "remittance": f"paylink settlement {settlement.id} of {settlement.date}",
                "status": PayoutStatus.SUBMITTED.value,
                "created_at": iso(utcnow()),
            },
        )
        if line is None:
            raise PayoutDeferred(f"the bank batch of {day} was already issued")
        return PayoutReceipt(str(line["reference"]), confirmed=line.get("status") == PayoutStatus.PAID.value)

    def _line(self, settlement: Settlement) -> dict[str, Any] | None:
        line = self.store.batch_line(settlement.id, settlement.payout_attempts)
        if line is None or line.get("status") != PayoutStatus.SUBMITTED.value:
            return line
        file = self.store.get_batch_file(str(line["day"]))
        entries: list[dict[str, Any]] = (file or {}).get("lines", [])
        held = {(str(e["settlement_id"]), int(e["attempt"])) for e in entries}
        if file is not None and (settlement.id, settlement.payout_attempts) not in held:
            # its day's file was issued without it: it never reached the bank, so it failed
            self.store.close_batch_line(settlement.id, settlement.payout_attempts, "failed", MISSED_FILE)
            line = self.store.batch_line(settlement.id, settlement.payout_attempts)
        return line

    def status(self, settlement: Settlement) -> PayoutStatus:
        line = self._line(settlement)
        return PayoutStatus(line["status"]) if line else PayoutStatus.SUBMITTED

    def failure_reason(self, settlement: Settlement) -> str | None:
        line = self.store.batch_line(settlement.id, settlement.payout_attempts)
        return str(line["failure_reason"]) if line and line.get("failure_reason") else None
