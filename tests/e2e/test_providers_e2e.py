"""The local runner's outside providers (DESIGN section 7): the SMS instance `sms` (Kavenegar) and
the bank inquiry instance `inq` (Zibal's facility API), reached by the functions through SSM."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import DEMO_KEY, Runner


def test_the_sandbox_lists_the_sms_and_inquiry_instances(runner: Runner) -> None:
    listed = {i["name"]: i for i in httpx.get(f"{runner.sandbox_url}/").json()["instances"]}

    assert listed["sms"]["protocol"] == "kavenegar"
    assert listed["inq"]["protocol"] == "zibal-inquiry"
    assert listed["sms"]["merchant"]
    assert listed["inq"]["merchant"]


def test_an_invoice_sms_is_recorded_by_the_sms_instance(runner: Runner) -> None:
    headers = {"Authorization": f"Bearer {DEMO_KEY}"}
    body = {"title": "Design", "kind": "invoice", "amount": 2_000_000,
            "payer": {"name": "Sara", "phone": "+989121234567"}}  # fmt: skip
    invoice = httpx.post(f"{runner.url}/v1/links", json=body, headers=headers, timeout=30).json()

    sent = httpx.post(f"{runner.url}/v1/links/{invoice['code']}/send", json={"via": ["sms"]},
                      headers=headers, timeout=30)  # fmt: skip

    assert sent.status_code == 200, sent.text
    calls = httpx.get(f"{runner.sandbox_url}/sms/calls").json()
    texts = [c["body"]["message"] for c in calls if c["path"].endswith("/sms/send.json")]
    assert any(invoice["url"] in text for text in texts)
