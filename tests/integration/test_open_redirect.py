"""Open redirects, through the handlers: nothing we answer sends a browser off the configured gateways'
origins or off the https redirect_url the merchant set."""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlsplit

import httpx
import pytest
import respx

from paylink.web.origins import origin_of
from tests.conftest import TEST_API_KEY
from tests.helpers import act_at_gateway, local_target
from tests.redirect_cases import FINE_REDIRECTS, HOSTILE_REDIRECTS, look_alikes_of, ours_and_below

BUYER = {"name": "Ali Rezaei", "phone": "09121234567"}
# PUBLIC_BASE_URL is https://pay.example in these tests
HOSTILE = {**HOSTILE_REDIRECTS, **look_alikes_of("pay.example")}
FINE = {**FINE_REDIRECTS, **ours_and_below("pay.example")}


def _create(api, redirect_url):  # type: ignore[no-untyped-def]
    return api.post_json(
        "/v1/links", {"title": "Scarf", "amount": 1_200_000, "redirect_url": redirect_url}, key=TEST_API_KEY
    )


@pytest.mark.parametrize("url", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_redirect_url_is_refused_with_a_field_error(api, merchant, aws, url):
    # When a merchant creates a link that would send buyers somewhere unsafe
    answer = _create(api, url)
    # Then it is a 400 naming redirect_url, and no link exists
    assert answer.status == 400, answer.text
    assert "redirect_url" in answer.json()["error"]["fields"]
    assert api.get("/v1/links", key=TEST_API_KEY).json()["items"] == []


@pytest.mark.parametrize("url", FINE.values(), ids=FINE.keys())
def test_a_plain_https_redirect_url_is_stored_exactly(api, merchant, url):
    # When a merchant creates a link returning to its own https page
    created = _create(api, url)
    # Then it is kept and answered exactly as given
    assert created.status == 201, created.text
    assert created.json()["redirect_url"] == url
    assert api.get(f"/v1/links/{created.json()['code']}", key=TEST_API_KEY).json()["redirect_url"] == url


def test_the_buyer_returns_only_to_the_merchants_https_url(api, merchant, gateways):
    # Given a link returning to the merchant's page, with metadata that tries to inject a parameter
    url = "https://shop.example/thanks?order=7"
    code = api.post_json(
        "/v1/links",
        {"title": "Scarf", "amount": 1_200_000, "redirect_url": url, "metadata": {"x": "1&status=paid\r\n"}},
        key=TEST_API_KEY,
    ).json()["code"]
    started = api.post_form(f"/{code}", BUYER)
    # When he cancels at the gateway and comes back
    answer = api.get(local_target(act_at_gateway(started.location, "cancel")))
    # Then he is sent to that page, with one status, the one we decided
    assert answer.status == 303
    assert answer.location.startswith(f"{url}&payment_id=")
    assert urlsplit(answer.location).netloc == "shop.example"
    assert not {"\r", "\n"} & set(answer.location)
    assert answer.location.count("status=") == 1
    assert "&status=cancelled&" in answer.location


# -- the checkout's 303 and auto-submitted form go only to the gateway's configured origin ----------


@dataclass
class Redirecting:
    """A gateway adapter (the real one of a sandbox instance) whose redirect is replaced: a
    compromised or broken gateway."""

    real: object
    url: str
    method: str = "GET"

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)

    def create(self, **kwargs: object) -> object:
        created = self.real.create(**kwargs)  # type: ignore[attr-defined]
        return replace(created, redirect=replace(created.redirect, method=self.method, url=self.url))


OFF_ORIGIN = {
    "other-host": "https://evil.example/start/1",
    "scheme-relative": "//evil.example/start/1",
    "userinfo": "{origin}@evil.example/",
    "relative-path": "../../evil",
    "other-port": "http://127.0.0.1:1/a/start/1",
    "crlf": "{base}/start/1\r\nSet-Cookie: a=b",
    "encoded-crlf": "{base}/start/1%0d%0aSet-Cookie:a=b",
    "javascript": "javascript:alert(1)",
}


@pytest.fixture
def code(api, merchant, gateways):  # type: ignore[no-untyped-def]
    answer = api.post_json("/v1/links", {"title": "Scarf", "amount": 1_200_000}, key=TEST_API_KEY)
    return answer.json()["code"]


def _compromise(monkeypatch, name, url, method="GET"):  # type: ignore[no-untyped-def]
    from paylink.payments import routing

    real = routing.adapter
    base = real(name).config.base_url  # type: ignore[union-attr]
    fake = Redirecting(real(name), url.format(base=base, origin=origin_of(base)), method)
    monkeypatch.setattr(routing, "adapter", lambda wanted: fake if wanted == name else real(wanted))


@pytest.mark.parametrize("url", OFF_ORIGIN.values(), ids=OFF_ORIGIN.keys())
def test_a_gateway_redirect_off_its_origin_fails_over_to_the_next_gateway(
    api, code, gateways, store, monkeypatch, url
):
    # Given gateway a answers a token whose redirect leaves its own origin
    _compromise(monkeypatch, "sandbox-a", url)
    # When a buyer checks out
    answer = api.post_form(f"/{code}", BUYER)
    # Then he is sent to gateway b instead, and a is recorded as failing
    assert answer.status == 303
    assert answer.location.startswith(f"{gateways.url}/b/start/")
    [payment] = api.get("/v1/payments", key=TEST_API_KEY).json()["items"]
    assert payment["gateway"] == "sandbox-b"
    health = store.gateway_healths(["sandbox-a"], [])["sandbox-a"]
    assert health.failures == 1


def test_an_auto_submitted_form_off_the_gateways_origin_is_never_rendered(api, code, gateways, monkeypatch):
    # Given gateway a asks for a POST form to another host (as a bank gateway would to its own)
    _compromise(monkeypatch, "sandbox-a", "https://evil.example/OnlinePG", method="POST")
    # When a buyer checks out
    answer = api.post_form(f"/{code}", BUYER)
    # Then no page posting to that host is served; he goes to gateway b
    assert answer.status == 303
    assert "evil.example" not in answer.text
    assert answer.location.startswith(f"{gateways.url}/b/start/")


def test_every_gateway_off_its_origin_is_a_503_and_the_buyer_goes_nowhere(api, code, monkeypatch):
    # Given every gateway answers a redirect to another host
    from paylink.payments import routing

    real = routing.adapter
    monkeypatch.setattr(routing, "adapter", lambda name: Redirecting(real(name), "https://evil.example/"))
    # When a buyer checks out
    answer = api.post_form(f"/{code}", BUYER)
    # Then he sees the 503 page, not a redirect, and the payment is failed
    assert answer.status == 503
    assert "Location" not in answer.headers
    assert "evil.example" not in answer.text
    [payment] = api.get("/v1/payments", key=TEST_API_KEY).json()["items"]
    assert (payment["status"], payment["failure_reason"]) == ("failed", "no_gateway")


@pytest.mark.parametrize("token", ["@evil.example", "//evil.example", "../../evil", "1\r\nSet-Cookie: a=b"])
def test_a_hostile_token_from_the_gateway_api_fails_over(api, code, gateways, token):
    # Given gateway a's API answers a token meant to bend its payment URL elsewhere
    with respx.mock(assert_all_called=True) as mock:
        mock.post(f"{gateways.url}/a/v1/request").respond(json={"result": 100, "trackId": token})
        mock.route(host="127.0.0.1").pass_through()
        # When a buyer checks out
        answer = api.post_form(f"/{code}", BUYER)
    # Then he goes to gateway b, on its own origin
    assert answer.status == 303
    assert answer.location.startswith(f"{gateways.url}/b/start/")
    assert httpx.URL(answer.location).host == "127.0.0.1"
