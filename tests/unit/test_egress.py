"""Webhook egress: only public addresses, resolved once, connected to as checked, no redirect."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest

from paylink.notify.egress import Refused, is_public, pinned_client, public_address
from tests.helpers import fake_dns

NOT_PUBLIC = [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "100.127.255.254",
    str(ipaddress.IPv4Address(0)), "0.1.2.3", "224.0.0.1", "239.255.255.250", "240.0.0.1",
    "255.255.255.255", "192.0.0.8",
    "198.18.0.1", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1",
    "::ffff:169.254.169.254", "2002:7f00:1::1", "2002:a9fe:a9fe::1", "64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1",
    "64:ff9b:1::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:db8::1",
    "2002:5db8:d70e::1",
    "fec0::1", "feff:ffff::1",  # deprecated site-local (RFC 3879): still routed inside some networks
]  # fmt: skip
PUBLIC = ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::5db8:d70e"]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_an_address_inside_a_network_is_not_public(address):
    assert is_public(ipaddress.ip_address(address)) is False


@pytest.mark.parametrize("address", PUBLIC)
def test_an_internet_address_is_public(address):
    assert is_public(ipaddress.ip_address(address)) is True


def test_a_name_with_one_private_address_among_public_ones_is_refused(monkeypatch):
    fake_dns(monkeypatch, {"hook.example": ["93.184.215.14", "10.0.0.5"]})
    with pytest.raises(Refused):
        public_address("hook.example", 443)


def test_a_name_that_does_not_resolve_is_refused():
    with pytest.raises(Refused):
        public_address("no-such-host.invalid", 443)


def test_a_public_name_gives_its_checked_address(monkeypatch):
    fake_dns(monkeypatch, {"hook.example": ["93.184.215.14"]})
    assert public_address("hook.example", 443) == "93.184.215.14"


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str]]] = []

    def do_POST(self) -> None:
        self.seen.append((self.path, self.headers.get("Host", "")))
        self.send_response(302)
        self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    running = HTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.seen = []
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()


def test_the_connection_goes_to_the_pinned_address_under_the_name_and_follows_no_redirect(server):
    # Given a client pinned to the address that was checked for hook.example (here a local server)
    port = server.server_address[1]
    with pinned_client("hook.example", "127.0.0.1", timeout=10) as client:
        # When it posts to the name (which no resolver knows)
        answer = client.post(f"http://hook.example:{port}/paylink", content=b"{}")
    # Then the request reached the pinned address with the name as Host, and the redirect was not followed
    assert _Recorder.seen == [("/paylink", f"hook.example:{port}")]
    assert answer.status_code == 302


def test_a_pinned_client_connects_to_no_other_host(server):
    import httpx

    port = server.server_address[1]
    with pinned_client("hook.example", "127.0.0.1", timeout=10) as client, pytest.raises(httpx.ConnectError):
        client.post(f"http://elsewhere.example:{port}/", content=b"{}")
    assert _Recorder.seen == []
