"""The new-link form's invoice part: the payer (`payer_name`, `payer_phone`) and an optional
installment schedule of up to MAX_ROWS rows (`inst_amount_N` in toman, `inst_due_N` a Jalali date),
turned into the API's body (amounts in rials, due dates as YYYY-MM-DD); the API's own rules (2-24
parts, increasing dates, adding up to the amount: DESIGN section 11) then apply and their errors
are shown on the form. Persian or Latin digits everywhere."""

from __future__ import annotations

from typing import Any

from paylink.panel.render import jalali_day, parse_toman

MAX_ROWS = 24
FIELDS = (
    "payer_name",
    "payer_phone",
    *(f"inst_{part}_{n}" for n in range(1, MAX_ROWS + 1) for part in ("amount", "due")),
)


def invoice_parts(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The payer and installments of the form as API fields, and the form's own errors."""
    from paylink.merchants import identity

    body: dict[str, Any] = {}
    errors: dict[str, str] = {}
    payer: dict[str, str] = {}
    if form.get("payer_name", "").strip():
        payer["name"] = form["payer_name"].strip()[:100]
    if form.get("payer_phone", "").strip():
        phone = identity.normal_mobile(form["payer_phone"])
        if phone is None:
            errors["payer_phone"] = "invoice.err.phone"
        else:
            payer["phone"] = phone
    if payer:
        body["payer"] = payer
    rows: list[dict[str, Any]] = []
    for n in range(1, MAX_ROWS + 1):
        amount_text = form.get(f"inst_amount_{n}", "").strip()
        due_text = form.get(f"inst_due_{n}", "").strip()
        if not amount_text and not due_text:
            continue
        amount, due = parse_toman(amount_text), jalali_day(due_text)
        if amount is None or due is None:
            errors["installments"] = "invoice.err.row"
            continue
        rows.append({"amount": amount, "due_date": due.isoformat()})
    if rows:
        body["installments"] = rows
    return body, errors
