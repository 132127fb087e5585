"""A buyer's browser, reduced to what it does with our pages and the gateways': follow 303s, submit
auto-posting forms, press a button on the gateway's page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from urllib.parse import urljoin

import httpx

FORM = re.compile(r'<form[^>]*method="post"[^>]*action="([^"]*)"[^>]*>(.*?)</form>', re.S | re.I)
HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', re.I)


@dataclass
class Return:
    """The buyer's return to our callback: a GET URL, or a POST of form fields."""

    method: str
    url: str
    fields: dict[str, str]

    def deliver(self, http: httpx.Client) -> httpx.Response:
        if self.method == "GET":
            return http.get(self.url)
        return http.post(self.url, data=self.fields)


def post_form_of(page: httpx.Response) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the one POST form on a page."""
    match = FORM.search(page.text)
    assert match, page.text[:500]
    fields = {name: unescape(value) for name, value in HIDDEN.findall(match.group(2))}
    return urljoin(str(page.url), unescape(match.group(1))), fields


def open_gateway(http: httpx.Client, started: httpx.Response) -> httpx.Response:
    """From the checkout's answer to the gateway's page: a 303 to follow, or an auto-posting form."""
    if started.status_code == 303:
        return http.get(started.headers["location"])
    assert started.status_code == 200, started.text[:500]
    action, fields = post_form_of(started)
    return http.post(action, data=fields)


def act(http: httpx.Client, gateway_page: httpx.Response, action: str) -> Return | None:
    """Press pay or cancel on the gateway's page; the return it sends the buyer on, if any."""
    assert gateway_page.status_code == 200, gateway_page.text[:500]
    url, fields = post_form_of(gateway_page)
    answer = http.post(url, data={**fields, "action": action})
    if answer.status_code == 303:
        return Return("GET", answer.headers["location"], {})
    if answer.status_code == 200 and FORM.search(answer.text):
        action_url, back = post_form_of(answer)
        return Return("POST", action_url, back)
    return None  # the gateway kept the buyer (no_return)
