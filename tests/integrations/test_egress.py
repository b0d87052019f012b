"""The egress guard (integrations/egress.py): every address family and spelling refused, public accepted,
DNS rebinding, redirects, size and time caps, TLS to a pinned address, form messages, refusals logged
as "Not sent: …", and the allowance.

Nothing here leaves the machine. Public addresses exist only in a fake resolver, and a connection to one is
either refused before it is made or carried by ``internet`` to a server on 127.0.0.1 (the session's
network guard in tests/conftest.py refuses anything else anyway).
"""

import datetime
import gzip
import os
import secrets
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis
import requests
from django.urls import reverse
from django.utils import timezone
from requests_oauthlib import OAuth2Session

from integrations import callbacks, deliveries, egress
from portal.credentials import callback_signing_key
from portal.models import EarlyAccess, Installation
from sync import client as sync_client, crypto, services as sync_services, webhooks
from sync.conf import sync_settings
from sync.models import Connection, SyncSpec, WebhookDelivery
from tests.factories import AppFactory, DeveloperFactory, MembershipFactory

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_IP = "93.184.215.14"  # only ever an answer of the fake resolver; never connected to
OTHER_PUBLIC_IP = "8.8.4.4"


# --- Fixtures: a fake resolver, a fake internet, servers on loopback -----------------------------------------

@pytest.fixture
def production(settings):
    """A production-like portal: no allowance."""
    settings.PORTAL = {**settings.PORTAL, "EGRESS_ALLOW_PRIVATE": False}
    return settings


@pytest.fixture
def demo(settings):
    settings.PORTAL = {**settings.PORTAL, "EGRESS_ALLOW_PRIVATE": True}
    return settings


class FakeDNS:
    """socket.getaddrinfo for names in ``answers`` (a list of addresses, or a function of the call count);
    numeric hosts answer themselves without any lookup; other names fail as unknown."""

    def __init__(self):
        self.answers: dict = {}
        self.lookups: list[str] = []

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        host = host.decode() if isinstance(host, bytes) else host
        port = int(port or 0)
        try:
            numeric = [socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host) and host]
        except OSError:
            numeric = None
        if numeric:
            addresses = numeric
        else:
            self.lookups.append(host)
            answer = self.answers.get(host.lower().rstrip("."))
            if answer is None:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            addresses = answer(self.lookups.count(host)) if callable(answer) else answer
        return [(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (a, port, 0, 0)) if ":" in a
                else (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (a, port)) for a in addresses]


@pytest.fixture
def dns(monkeypatch):
    fake = FakeDNS()
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    return fake


class Internet:
    """Every outgoing connect is recorded; one to a mapped public address reaches a loopback server instead,
    any other non-loopback one fails before it leaves."""

    def __init__(self):
        self.routes: dict[tuple[str, int], tuple[str, int]] = {}
        self.attempts: list[tuple[str, int]] = []

    def route(self, public: tuple[str, int], loopback_port: int) -> None:
        self.routes[public] = ("127.0.0.1", loopback_port)


@pytest.fixture
def internet(monkeypatch):
    net = Internet()
    previous = socket.socket.connect

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host, port = address[0], address[1]
            net.attempts.append((host, port))
            if (host, port) in net.routes:
                return previous(sock, net.routes[(host, port)])
            if host not in ("127.0.0.1", "::1"):
                raise ConnectionRefusedError(f"test internet: no route to {host}")
        return previous(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return net


class Web:
    """A server on 127.0.0.1 that records requests; ``handler`` answers them (default: 200 "ok")."""

    def __init__(self, tls_context: ssl.SSLContext | None = None):
        self.requests: list[dict] = []
        self.handler = lambda h: h.answer(200, b"ok")
        web = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                web.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                     "body": self.rfile.read(length) if length else b""})
                web.handler(self)

            do_GET = do_POST = _handle

            def answer(self, status, body=b"", headers=()):
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls_context is not None:
            self.httpd.socket = tls_context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"{'https' if tls_context else 'http'}://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def web():
    server = Web()
    yield server
    server.close()


@pytest.fixture
def internal():
    """A second server: what a rebinding attacker would like the portal to reach."""
    server = Web()
    server.handler = lambda h: h.answer(200, b"internal secrets")
    yield server
    server.close()


# --- Every address family and spelling is refused ---------------------------------------------------------

REFUSED_LITERALS = [
    "http://127.0.0.1/", "http://127.0.0.1./", "http://127.1/", "http://2130706433/", "http://0x7f000001/",
    "http://0x7f.1/", "http://0177.0.0.1/", "http://0177.1/", "http://127.000.000.001/", "http://0/",
    "http://0.0.0.0/", "http://10.0.0.1/", "http://10.1/", "http://172.16.5.4/", "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/", "http://0xa9fea9fe/", "http://100.64.0.1/", "http://192.0.0.8/",
    "http://198.18.0.1/", "http://192.0.2.1/", "http://224.0.0.1/", "http://239.255.255.250/", "http://240.0.0.1/",
    "http://255.255.255.255/", "http://[::1]/", "http://[::]/", "http://[0:0:0:0:0:0:0:1]/",
    "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://[::ffff:10.0.0.1]/",
    "http://[::ffff:169.254.169.254]/", "http://[::127.0.0.1]/", "http://[::ffff:0:7f00:1]/",
    "http://[64:ff9b::7f00:1]/", "http://[64:ff9b::a9fe:a9fe]/", "http://[64:ff9b:1::808:808]/",
    "http://[2002:7f00:1::]/", "http://[2002:a00:1::1]/", "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    "http://[2001:db8::1]/", "http://[fc00::1]/", "http://[fd12:3456::1]/", "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/", "http://[fec0::1]/", "http://[ff02::1]/", "http://[100::1]/",
    "http://localhost/", "http://LOCALHOST./", "http://api.localhost/", "https://127.0.0.1:6379/",
]


@pytest.mark.parametrize("url", REFUSED_LITERALS)
def test_every_non_public_spelling_is_refused_before_any_lookup(production, dns, internet, url):
    # given a production portal
    # when a literal address in any spelling is to be called
    with pytest.raises(egress.Refused):
        egress.send("GET", url, purpose="test")
    # then nothing was looked up and nothing was connected to
    assert dns.lookups == [] and internet.attempts == []


@pytest.mark.parametrize("url", ["http://256.0.0.1/", "http://1.2.3.4.5/", "http://0x100000000/", "http://1.2.3.08/",
                                 "http://4294967296/", "http://[::ffff:1.2.3]/"])
def test_numbers_that_are_no_address_are_refused(production, dns, url):
    with pytest.raises(egress.Refused):
        egress.resolve(url, purpose="test")
    assert dns.lookups == []


@pytest.mark.parametrize("url,words", [
    ("ftp://files.example.com/x", "Only http and https"), ("file:///etc/passwd", "Only http and https"),
    ("http://user:pass@hooks.example.com/", "user name and password"), ("http:///nohost", "not a valid"),
    ("gopher://127.0.0.1:6379/_INFO", "Only http and https"), ("http://127.0.0.1%2f@hooks.example.com/", "user name"),
    ("http://127。0。0。1/", "not a valid"), ("http://ｌｏｃａｌｈｏｓｔ/", "not a valid"),
])
def test_other_schemes_userinfo_and_missing_hosts_are_refused(production, dns, url, words):
    with pytest.raises(egress.Refused, match=words):
        egress.resolve(url, purpose="test")


@pytest.mark.parametrize("answer", [["10.0.0.5"], ["127.0.0.1"], [PUBLIC_IP, "10.0.0.5"], ["::1"],
                                    ["::ffff:192.168.0.1"], ["fe80::1%eth0"], ["100.100.100.200"]])
def test_a_name_with_any_non_public_answer_is_refused_without_telling_the_address(production, dns, internet, answer):
    # given a name that resolves (also) to a non-public address
    dns.answers["intranet.example.com"] = answer
    # when it is to be called
    with pytest.raises(egress.Refused) as refused:
        egress.send("GET", "https://intranet.example.com/admin", purpose="test")
    # then it is refused before connecting, and the message does not reveal what the name resolved to
    assert "resolves to a non-public address" in str(refused.value)
    assert not any(a.split("%")[0] in str(refused.value) for a in answer)
    assert internet.attempts == []


@pytest.mark.parametrize("url", ["https://8.8.8.8/", "https://[2606:4700:4700::1111]/", "https://[::ffff:8.8.8.8]/",
                                 "https://[64:ff9b::808:808]/", "https://[2002:808:808::1]/", "https://134744072/"])
def test_public_literals_are_accepted_without_connecting(production, dns, internet, url):
    destination = egress.resolve(url, purpose="test")
    assert destination.addresses and not destination.allowed
    assert dns.lookups == [] and internet.attempts == []


def test_a_public_name_is_accepted_and_its_checked_addresses_kept(production, dns, internet):
    dns.answers["api.example.com"] = [PUBLIC_IP, "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    destination = egress.resolve("https://API.example.com./v1", purpose="test")
    assert (destination.host, destination.port, destination.netloc) == ("api.example.com", 443, "api.example.com.")
    assert destination.addresses == (PUBLIC_IP, "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    assert internet.attempts == []


def test_a_public_name_is_connected_to_at_its_checked_address_with_its_host_header(production, dns, internet, web):
    # given a public name, served (in this test) by the loopback server
    dns.answers["api.example.com"] = [PUBLIC_IP]
    internet.route((PUBLIC_IP, web.port), web.port)
    # when it is called
    response = egress.send("GET", f"http://api.example.com:{web.port}/ping", purpose="test")
    # then the connection went to the checked address, and the request names the host
    assert response.status_code == 200 and response.text == "ok"
    assert dns.lookups == ["api.example.com"] and internet.attempts == [(PUBLIC_IP, web.port)]
    assert web.requests[0]["headers"]["Host"] == f"api.example.com:{web.port}"


# --- DNS rebinding -----------------------------------------------------------------------------------------

def test_rebinding_the_name_after_the_check_does_not_move_the_connection(production, dns, internet, web, internal):
    # given a name that answers a public address first, then the internal server's address
    dns.answers["rebind.example.com"] = lambda n: [PUBLIC_IP] if n == 1 else ["127.0.0.1"]
    internet.route((PUBLIC_IP, internal.port), web.port)  # the public host, played by `web`
    # when the portal calls it on the internal server's port
    response = egress.send("GET", f"http://rebind.example.com:{internal.port}/", purpose="test")
    # then the name was resolved once, the connection went to the checked public address,
    # and the internal server never heard of it
    assert dns.lookups == ["rebind.example.com"]
    assert internet.attempts == [(PUBLIC_IP, internal.port)]
    assert response.text == "ok" and len(web.requests) == 1
    assert internal.requests == []


def test_rebinding_to_internal_first_is_refused(production, dns, internet, internal):
    dns.answers["rebind.example.com"] = lambda n: ["127.0.0.1"] if n == 1 else [PUBLIC_IP]
    with pytest.raises(egress.Refused):
        egress.send("GET", f"http://rebind.example.com:{internal.port}/", purpose="test")
    assert internet.attempts == [] and internal.requests == []


def test_a_kept_alive_session_checks_every_request_again(production, dns, internet, web, internal):
    # given a guarded session that already talked to the public address
    dns.answers["rebind.example.com"] = lambda n: [PUBLIC_IP] if n == 1 else ["127.0.0.1"]
    internet.route((PUBLIC_IP, internal.port), web.port)
    session = egress.session(purpose="test")
    assert session.get(f"http://rebind.example.com:{internal.port}/").status_code == 200
    # when the name now resolves to loopback, the next request is refused, not sent on the old pool or the new address
    with pytest.raises(egress.Refused):
        session.get(f"http://rebind.example.com:{internal.port}/")
    assert internal.requests == [] and len(web.requests) == 1
    session.close()


# --- TLS to a pinned address ------------------------------------------------------------------------------

def _certificates(tmp_path: Path, name: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def build(subject, issuer, key, signer, *, ca, san=None):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Egress test CA")])
    ca = build(ca_name, ca_name, ca_key, ca_key, ca=True)
    leaf = build(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]), ca_name, leaf_key, ca_key, ca=False,
                 san=name)
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(pem))
    (tmp_path / "leaf.key").write_bytes(leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                               serialization.NoEncryption()))
    return tmp_path / "ca.pem", tmp_path / "leaf.pem", tmp_path / "leaf.key"


@pytest.fixture
def tls_web(tmp_path):
    ca, cert, key = _certificates(tmp_path, "secure.example.com")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names = []
    context.sni_callback = lambda sslobj, name, ctx: names.append(name)
    server = Web(tls_context=context)
    server.sni, server.ca = names, str(ca)
    yield server
    server.close()


def test_tls_to_the_pinned_address_sends_sni_and_verifies_the_host_name(production, dns, internet, tls_web):
    # given a public https name, served by a loopback server whose certificate is for that name
    dns.answers["secure.example.com"] = [PUBLIC_IP]
    internet.route((PUBLIC_IP, tls_web.port), tls_web.port)
    # when it is called with the certificate's CA trusted
    response = egress.send("GET", f"https://secure.example.com:{tls_web.port}/", purpose="test", verify=tls_web.ca)
    # then the TLS handshake named the host, its certificate was accepted for it, and Host names it too
    assert response.status_code == 200
    assert tls_web.sni == ["secure.example.com"]
    assert tls_web.requests[0]["headers"]["Host"] == f"secure.example.com:{tls_web.port}"


def test_tls_to_the_pinned_address_refuses_a_certificate_for_another_name(production, dns, internet, tls_web):
    dns.answers["other.example.com"] = [PUBLIC_IP]
    internet.route((PUBLIC_IP, tls_web.port), tls_web.port)
    with pytest.raises(requests.exceptions.SSLError):
        egress.send("GET", f"https://other.example.com:{tls_web.port}/", purpose="test", verify=tls_web.ca)
    assert tls_web.requests == []


# --- Redirects, size, time --------------------------------------------------------------------------------

@pytest.fixture
def public_web(production, dns, internet, web):
    """`web` as the public host hooks.example.com."""
    dns.answers["hooks.example.com"] = [PUBLIC_IP]
    internet.route((PUBLIC_IP, web.port), web.port)
    web.public_url = f"http://hooks.example.com:{web.port}"
    return web


def test_a_redirect_is_not_followed(public_web, internal):
    # given a public server that redirects to the internal one
    public_web.handler = lambda h: h.answer(302, headers=[("Location", f"{internal.url}/secret")])
    # when it is called, even asking for redirects to be followed
    response = egress.send("GET", f"{public_web.public_url}/go", purpose="test")
    session = egress.session(purpose="test")
    followed = session.get(f"{public_web.public_url}/go", allow_redirects=True)
    # then the redirect is the answer
    assert response.status_code == followed.status_code == 302
    assert internal.requests == [] and len(public_web.requests) == 2


def test_an_oauth2_session_with_the_guard_follows_no_redirect_and_refuses_private_urls(public_web, internal,
                                                                                      monkeypatch):
    # given requests-oauthlib's session, guarded as the sync engine does (plain http allowed for the test)
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    session = egress.guard(OAuth2Session("client"), purpose="test")
    session.token = {"access_token": "bearer-that-must-not-leak", "token_type": "Bearer"}
    public_web.handler = lambda h: h.answer(307, headers=[("Location", f"{internal.url}/api")])
    # when it calls a public URL that redirects inward, and an internal URL directly
    assert session.get(f"{public_web.public_url}/api").status_code == 307
    with pytest.raises(egress.Refused):
        session.get(f"{internal.url}/api")
    # then the internal server never saw the bearer token
    assert internal.requests == []
    assert public_web.requests[0]["headers"]["Authorization"] == "Bearer bearer-that-must-not-leak"


def test_a_declared_large_answer_is_refused(public_web):
    public_web.handler = lambda h: h.answer(200, b"x" * 5000)
    with pytest.raises(egress.ResponseTooLarge):
        egress.send("GET", public_web.public_url, purpose="test", max_bytes=1000)


def test_an_undeclared_large_answer_is_cut_off(public_web):
    # given an answer without Content-Length, streamed until the connection closes
    def endless(h):
        h.send_response(200)
        h.send_header("Connection", "close")
        h.end_headers()
        try:
            for _ in range(2000):
                h.wfile.write(b"y" * 1024)
        except OSError:
            pass
        h.close_connection = True

    public_web.handler = endless
    with pytest.raises(egress.ResponseTooLarge):
        egress.send("GET", public_web.public_url, purpose="test", max_bytes=64 * 1024)


def test_a_compressed_answer_is_capped_by_its_decoded_size(public_web):
    bomb = gzip.compress(b"\0" * (4 * 1024 * 1024))
    assert len(bomb) < 64 * 1024
    public_web.handler = lambda h: h.answer(200, bomb, headers=[("Content-Encoding", "gzip")])
    with pytest.raises(egress.ResponseTooLarge):
        egress.send("GET", public_web.public_url, purpose="test", max_bytes=64 * 1024)


def test_a_silent_server_times_out(public_web):
    # given a server that answers only when released (or after 30 s)
    release = threading.Event()
    public_web.handler = lambda h: (release.wait(30), h.answer(200, b"late"))
    started = time.monotonic()
    # then a 0.2 s timeout gives up long before any answer could come
    with pytest.raises(requests.Timeout):
        egress.send("GET", public_web.public_url, purpose="test", timeout=0.2)
    release.set()
    assert time.monotonic() - started < 15


def test_a_trickling_answer_is_cut_off_at_the_total_time(public_web):
    # given a server that sends a byte every 0.1 s: each read is quick, the whole takes 30 s
    def trickle(h):
        h.send_response(200)
        h.send_header("Content-Length", "300")
        h.end_headers()
        try:
            for _ in range(300):
                h.wfile.write(b"z")
                h.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    public_web.handler = trickle
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        egress.send("GET", public_web.public_url, purpose="test", timeout=1, max_seconds=0.5)
    # then it is cut off long before the whole answer (30 s) could arrive
    assert time.monotonic() - started < 15


def test_a_small_answer_is_read_whole(public_web):
    public_web.handler = lambda h: h.answer(200, b"fine" * 10)
    response = egress.send("POST", public_web.public_url, purpose="test", data=b"{}", max_bytes=40)
    assert response.content == b"fine" * 10 and public_web.requests[0]["body"] == b"{}"


def test_proxies_from_the_environment_are_not_used(public_web, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    monkeypatch.setenv("http_proxy", "http://10.9.9.9:3128")
    assert egress.send("GET", public_web.public_url, purpose="test").status_code == 200


# --- The allowance --------------------------------------------------------------------------------------

def test_the_allowance_reaches_loopback_and_without_it_nothing_is_sent(settings, web):
    settings.PORTAL = {**settings.PORTAL, "EGRESS_ALLOW_PRIVATE": True}
    assert egress.send("GET", f"{web.url}/demo", purpose="test").status_code == 200
    settings.PORTAL = {**settings.PORTAL, "EGRESS_ALLOW_PRIVATE": False}
    with pytest.raises(egress.Refused):
        egress.send("GET", f"{web.url}/prod", purpose="test")
    assert [r["path"] for r in web.requests] == ["/demo"]


def test_the_allowance_follows_demo_mode_when_not_set(settings):
    settings.PORTAL = {k: v for k, v in settings.PORTAL.items() if k != "EGRESS_ALLOW_PRIVATE"}
    settings.DEMO_MODE = False
    assert egress.private_allowed() is False
    settings.DEMO_MODE = True
    assert egress.private_allowed() is True


def test_an_operator_origin_is_allowed_only_to_the_caller_that_names_it(production, web, internal):
    # the forwarding gateway may reach its upstream; the same session may not reach another internal port
    session = egress.session(purpose="upstream API", allow=(f"{web.url}/public-api",))
    assert session.get(f"{web.url}/public-api/x").status_code == 200
    with pytest.raises(egress.Refused):
        session.get(f"{internal.url}/")
    with pytest.raises(egress.Refused):
        egress.send("GET", f"{web.url}/public-api/x", purpose="webhook")
    assert internal.requests == [] and len(web.requests) == 1


def _production_setting(**env) -> str:
    code = ("import django; django.setup(); from portal.conf import portal_settings; "
            "print(portal_settings.EGRESS_ALLOW_PRIVATE)")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DJANGO_SETTINGS_MODULE": "config.settings_production",
             "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), **env})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_production_has_no_allowance_by_default_and_the_old_variable_still_works():
    assert _production_setting() == "False"
    assert _production_setting(CALLBACKS_TO_PRIVATE_ADDRESSES="1") == "True"
    assert _production_setting(EGRESS_ALLOW_PRIVATE="0", CALLBACKS_TO_PRIVATE_ADDRESSES="1", DEMO_MODE="1") == "False"


def test_forwarding_reaches_its_upstream_on_loopback_without_the_allowance(production, web, settings):
    from integrations import forwarding

    settings.PORTAL = {**settings.PORTAL, "UPSTREAM_API_URL": f"{web.url}/public-api"}
    session = forwarding._session()
    assert session.get(f"{web.url}/public-api/product-service/product/1").status_code == 200
    with pytest.raises(egress.Refused):
        session.get(f"http://127.0.0.1:{web.port + 1 if web.port < 65535 else 1}/")


# --- Forms ------------------------------------------------------------------------------------------------

VALID_APP = {
    "name": "Stock Sync", "app_ref": "stock-sync", "short_description": "Syncs stock.", "long_description": "",
    "client_type": "confidential", "redirect_uris": "https://stock.example.com/cb", "install_callback_url": "",
    "uninstall_callback_url": "", "homepage_url": "", "support_url": "", "privacy_url": "",
}


@pytest.mark.django_db
@pytest.mark.parametrize("url,words", [
    ("https://127.0.0.1/installed", "127.0.0.1 is a loopback address"),
    ("https://169.254.169.254/latest", "169.254.169.254 is a link-local address"),
    ("https://[::ffff:10.0.0.1]/x", "a private network address (inside an IPv6 address)"),
    ("https://localhost:8080/x", "localhost is a loopback address"),
    ("https://intranet.example.com/x", "The host intranet.example.com resolves to a non-public address"),
    ("https://nowhere.example.com/x", "The host nowhere.example.com could not be found."),
    ("http://hooks.example.com/x", "Use an https URL."),
])
def test_the_app_form_refuses_callback_urls_the_portal_may_not_call(client, production, dns, url, words):
    # given a developer, and names that resolve inward or not at all
    dns.answers["intranet.example.com"] = ["10.20.30.40"]
    client.force_login(DeveloperFactory(partner=True).user)
    # when they register an app with such an install callback
    response = client.post(reverse("portal:app_create"), {**VALID_APP, "install_callback_url": url})
    # then the form says why, on the field, and no app is made
    assert response.status_code == 200
    errors = response.context["form"].errors["install_callback_url"]
    assert any(words in error for error in errors), errors
    assert "10.20.30.40" not in response.content.decode()


@pytest.mark.django_db
def test_the_app_form_accepts_a_public_callback_and_keeps_an_unchanged_one_without_a_lookup(client, production, dns):
    from portal.models import App

    dns.answers["hooks.example.com"] = [PUBLIC_IP]
    developer = DeveloperFactory(partner=True).user
    client.force_login(developer)
    client.post(reverse("portal:app_create"), {**VALID_APP, "install_callback_url": "https://hooks.example.com/i"})
    app = App.objects.get(client_id="stock-sync")
    assert app.install_callback_url == "https://hooks.example.com/i" and dns.lookups == ["hooks.example.com"]
    # when the developer renames the app later (the callback unchanged, its name no longer resolving)
    dns.answers.clear()
    from portal import services

    services.app_update(app=app, actor=developer, name="Renamed", install_callback_url="https://hooks.example.com/i")
    assert dns.lookups == ["hooks.example.com"]


@pytest.mark.django_db
def test_the_developer_api_refuses_a_callback_url_the_portal_may_not_call(production):
    from rest_framework.test import APIClient

    from accounts.api_keys import api_key_create
    from portal.models import App

    developer = DeveloperFactory(partner=True).user
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(user=developer, name='t', actor=developer)[1]}")
    response = api.post("/api/developer/apps/", {
        "app_ref": "stock-sync", "name": "Stock Sync", "short_description": "Syncs stock.",
        "redirect_uris": ["https://stock.example.com/cb"], "uninstall_callback_url": "https://[::1]:8000/admin/"},
        format="json")
    assert response.status_code == 400
    assert "::1 is a loopback address" in str(response.json()["uninstall_callback_url"])
    assert not App.objects.exists()


@pytest.fixture
def sync_app(db):
    from portal import services
    from portal.models import App

    developer = DeveloperFactory(partner=True).user
    app, secret = services.app_register(actor=developer, app_ref="sync-app", name="Sync App",
                                        short_description="Mirrors things.", client_type=App.CLIENT_CONFIDENTIAL,
                                        redirect_uris="https://app.example.com/callback")
    return app, secret, developer


EXTERNAL = {"name": "Acme", "account_code": "acme", "authorize_url": "https://provider.example.com/oauth/authorize/acme",
            "token_url": "https://provider.example.com/oauth/token/acme",
            "api_base_url": "https://provider.example.com/public-api/acme", "client_id": "abc", "client_secret": "xyz",
            "rate_limit": "100", "rate_window_seconds": "60"}


@pytest.mark.parametrize("field,url,words", [
    ("token_url", "https://127.0.0.1:8000/oauth/token/acme", "127.0.0.1 is a loopback address"),
    ("api_base_url", "https://[::1]:6379/public-api/acme", "::1 is a loopback address"),
    ("api_base_url", "https://internal.example.com/public-api/acme", "resolves to a non-public address"),
    ("authorize_url", "https://100.64.1.1/authorize", "carrier-grade NAT"),
    ("token_url", "http://provider.example.com/oauth/token/acme", "Use an https URL."),
])
def test_the_external_connection_form_refuses_urls_the_portal_may_not_call(client, production, dns, sync_app,
                                                                           field, url, words):
    dns.answers["provider.example.com"] = [PUBLIC_IP]
    dns.answers["internal.example.com"] = ["192.168.7.7"]
    app, _, developer = sync_app
    client.force_login(developer)
    response = client.post(reverse("sync:external_connect", args=[app.pk]), {**EXTERNAL, field: url})
    assert response.status_code == 200
    assert any(words in error for error in response.context["form"].errors[field])
    assert not Connection.objects.filter(account_code="acme").exists()


def test_the_external_connection_form_accepts_public_urls(client, production, dns, internet, sync_app):
    dns.answers["provider.example.com"] = [PUBLIC_IP]
    app, _, developer = sync_app
    client.force_login(developer)
    response = client.post(reverse("sync:external_connect", args=[app.pk]), EXTERNAL)
    assert response.status_code == 302 and Connection.objects.filter(account_code="acme").exists()
    assert internet.attempts == []


def test_the_managed_sync_form_refuses_a_webhook_url_the_portal_may_not_call(client, production, sync_app):
    app, secret, developer = sync_app
    client.force_login(developer)
    response = client.post(reverse("sync:app_sync", args=[app.pk]), {
        "is_enabled": "on", "resources": ["product"], "interval_seconds": "300", "client_secret": secret,
        "webhook_url": "https://10.0.0.8/hooks"})
    assert response.status_code == 200
    assert any("10.0.0.8 is a private network address" in e for e in response.context["form"].errors["webhook_url"])


# --- At send time: callbacks, webhooks, the sync client, the token exchange ----------------------------------

@pytest.fixture
def callback_installation(db):
    app = AppFactory(client_id="stock-sync", install_callback_url="https://hooks.example.com/installed",
                     callback_signing_key=callback_signing_key("s"))
    membership = MembershipFactory(account__code="outerheaven")
    EarlyAccess.objects.create(app=app, account=membership.account)
    return Installation.objects.create(app=app, account=membership.account, installed_by=membership.user)


def test_a_callback_whose_name_turned_private_is_logged_as_not_sent(production, dns, internet, callback_installation):
    # given a callback URL that was public when saved and now resolves to the metadata service
    dns.answers["hooks.example.com"] = ["169.254.169.254"]
    # when the install callback is sent
    delivery = callbacks.callback_schedule(installation=callback_installation, kind="install")
    attempt = deliveries.attempt(delivery)
    # then nothing was sent, the delivery is not retried, and the log says so without the address
    assert delivery.status == "failed" and attempt.status_code is None and internet.attempts == []
    assert attempt.error.startswith("Not sent: The host hooks.example.com resolves to a non-public address")
    assert "169.254" not in attempt.error


def test_a_callback_to_a_public_name_goes_to_the_checked_address(production, dns, internet, web,
                                                                 callback_installation):
    dns.answers["hooks.example.com"] = [PUBLIC_IP]
    internet.route((PUBLIC_IP, 443), web.port)
    # plain http on port 443 stands in for the app's server (the URL's scheme is what decides TLS)
    from portal.models import App

    App.objects.filter(pk=callback_installation.app_id).update(install_callback_url="http://hooks.example.com:443/in")
    callback_installation.refresh_from_db()
    attempt = deliveries.attempt(callbacks.callback_schedule(installation=callback_installation, kind="install"))
    assert attempt.status_code == 200 and attempt.response_body == "ok"
    assert web.requests[0]["path"].startswith("/in?") and internet.attempts == [(PUBLIC_IP, 443)]


def test_a_webhook_to_a_private_address_is_logged_as_not_sent(db, production, internet, web):
    # given a webhook URL on loopback (saved before the guard, say) and a delivery waiting for it
    app = AppFactory(callback_signing_key="key")
    SyncSpec.objects.create(app=app, is_enabled=True, resources=["product"], webhook_url=f"{web.url}/hook")
    connection = Connection.objects.create(app=app, kind="external", account_code="acme", client_id="abc",
                                           authorize_url="https://x.example/a", token_url="https://x.example/t",
                                           api_base_url="https://x.example/public-api/acme")
    delivery = WebhookDelivery.objects.create(connection=connection, url=f"{web.url}/hook", request_body="{}",
                                              event_count=1)
    # when the deliverer runs
    webhooks.deliver_due()
    # then nothing was sent, and the attempt log says why
    attempt = delivery.attempt_log.get()
    assert attempt.error.startswith("Not sent: 127.0.0.1 is a loopback address")
    assert attempt.status_code is None and web.requests == []


@pytest.fixture
def external_connection(db, web, settings):
    # oauthlib may use plain http (the loopback servers here): only the egress guard stands in the way
    settings.SYNC_ENGINE = {**settings.SYNC_ENGINE, "ALLOW_HTTP": True}
    app = AppFactory()
    return Connection.objects.create(
        app=app, kind=Connection.Kind.EXTERNAL, account_code="acme", client_id="abc",
        authorize_url=f"{web.url}/authorize", token_url=f"{web.url}/token", api_base_url=f"{web.url}/public-api/acme",
        access_token_encrypted=crypto.encrypt("the-bearer-token"), refresh_token_encrypted=crypto.encrypt("r"),
        token_expires_at=timezone.now() + datetime.timedelta(hours=1), rate_limit=1000, rate_window_seconds=60,
        status=Connection.Status.ACTIVE)


def _sync_client(connection):
    return sync_client.SyncClient(connection, redis_client=redis.Redis.from_url(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")))


def test_the_sync_client_sends_no_bearer_token_to_an_internal_api_url(production, web, external_connection):
    # given an external connection whose API base URL is the portal's own loopback
    client = _sync_client(external_connection)
    # when the engine reads a page
    with pytest.raises(sync_client.RemoteRejected) as rejected:
        client.get("/product-service/product-search")
    client.close()
    # then nothing reached the server, and the reason is a refusal, not an answer
    assert web.requests == []
    assert str(rejected.value).startswith("Not sent: 127.0.0.1 is a loopback address")


def test_the_sync_client_refreshes_no_token_at_an_internal_token_url(production, web, external_connection):
    Connection.objects.filter(pk=external_connection.pk).update(token_expires_at=timezone.now())
    external_connection.refresh_from_db()
    client = _sync_client(external_connection)
    with pytest.raises(sync_client.RemoteRejected, match="^Not sent: "):
        client.get("/product-service/product-search")
    client.close()
    assert web.requests == []


def test_the_connection_page_shows_only_a_short_excerpt_of_an_error_body(demo, web, external_connection):
    # given an API that answers 404 with a long page
    web.handler = lambda h: h.answer(404, b"<html>" + b"A" * 5000 + b"INTERNAL-TAIL</html>")
    client = _sync_client(external_connection)
    with pytest.raises(sync_client.RemoteRejected) as rejected:
        client.get("/product-service/product-search")
    client.close()
    message = str(rejected.value)
    assert message.startswith("HTTP 404: <html>AAA") and len(message) <= 140 and "INTERNAL-TAIL" not in message


def test_managed_connections_may_reach_the_platform_and_external_ones_nothing(settings, external_connection):
    assert sync_client.operator_origins(external_connection) == ()
    external_connection.kind = Connection.Kind.MANAGED
    assert sync_client.operator_origins(external_connection) == (sync_settings.PLATFORM_URL,)


def test_the_token_exchange_is_not_sent_to_an_internal_token_url(production, web, settings):
    settings.SYNC_ENGINE = {**settings.SYNC_ENGINE, "ALLOW_HTTP": True}
    with pytest.raises(sync_services.ConnectFailed) as failed:
        sync_services._exchange_code(token_url=f"{web.url}/token", client_id="abc", client_secret="xyz", code="c",
                                     redirect_uri="https://portal.example.com/cb")
    assert str(failed.value).startswith("Not sent: 127.0.0.1 is a loopback address") and web.requests == []


def test_the_oauth_callback_page_shows_only_a_short_excerpt_of_error_description(demo, web, settings):
    # given a token endpoint that answers with a long error_description (say, a page it fetched)
    settings.SYNC_ENGINE = {**settings.SYNC_ENGINE, "ALLOW_HTTP": True}
    description = "internal page: " + "B" * 3000 + " SECRET-TAIL"
    web.handler = lambda h: h.answer(400, ('{"error": "invalid_grant", "error_description": "%s"}' % description)
                                     .encode(), headers=[("Content-Type", "application/json")])
    with pytest.raises(sync_services.ConnectFailed) as failed:
        sync_services._exchange_code(token_url=f"{web.url}/token", client_id="abc", client_secret="xyz", code="c",
                                     redirect_uri="https://portal.example.com/cb")
    message = str(failed.value)
    assert "internal page: BBB" in message and "SECRET-TAIL" not in message and len(message) < 200


def test_an_excerpt_is_one_short_printable_line():
    assert egress.excerpt("a\n\tb\x00c   d") == "a b c d"
    assert egress.excerpt("x" * 500) == "x" * 119 + "…"
    assert egress.excerpt(b"caf\xc3\xa9") == "café"
