"""`Capabilities.verify_takes_return_reference` says whether a gateway's verify sends a reference the
buyer's return carried: only then is a credited reference kept (GWREF) so that it never credits a
second payment (store.payments.mark_paid). Checked against what each adapter's verify really sends."""

from __future__ import annotations

import contextlib

import httpx
import pytest

from paylink.payments.gateways import PROTOCOLS, GatewayConfig, GatewayError

RETURNED = "987654321"  # a reference a return could carry, under every protocol's key
REFS = {"RefNum": RETURNED, "paymentRefId": RETURNED}
TOKENS = {"zibal": "123456", "zarinpal": "A0000000000000000000000000000012345", "payping": "code1",
          "sep": "token1"}  # fmt: skip


def _verify_bodies(protocol: str) -> list[str]:
    """The request bodies of one verify with REFS (answered with an empty JSON object)."""
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.content.decode())
        return httpx.Response(200, json={})

    config = GatewayConfig(name="g", protocol=protocol, base_url="https://gw.example", merchant_id="m")
    gateway = PROTOCOLS[protocol](config, httpx.Client(transport=httpx.MockTransport(answer)))
    with contextlib.suppress(GatewayError):  # the empty answer is refused; only what was sent counts
        gateway.verify(token=TOKENS[protocol], amount_irr=10_000, refs=REFS)
    return sent


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_a_gateway_keeps_credited_references_exactly_when_its_verify_sends_the_returns(protocol):
    # Given a verify asked with the references a buyer's return may carry
    bodies = _verify_bodies(protocol)
    assert bodies, "verify sent nothing"
    sends_returned = any(RETURNED in body for body in bodies)
    # Then the capability says so: a gateway verified by our token alone needs no GWREF item
    assert PROTOCOLS[protocol].capabilities.verify_takes_return_reference is sends_returned  # type: ignore[attr-defined]
