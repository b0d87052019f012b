"""Forwarding mode: the gateway in front of an upstream Brightpearl-style API (a small HTTP server on
127.0.0.1 started by the test)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from integrations.models import Product
from tests.integrations.api_support import (  # noqa: F401
    api_url,
    fresh_pools,
    make_staff_token,
    post_json,
    seed_rows,
    set_default_limit,
    world,
)


class Upstream:
    """Records what it receives and answers with a canned status and body."""

    def __init__(self):
        self.received: list[dict] = []
        self.status = 200
        self.body = {"response": {"from": "upstream"}}
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                upstream.received.append({"method": self.command, "path": self.path,
                                          "headers": dict(self.headers.items()),
                                          "body": self.rfile.read(length) if length else b""})
                payload = json.dumps(upstream.body).encode()
                self.send_response(upstream.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/upstream-api"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream(settings):
    with Upstream() as server:
        settings.PORTAL = {**settings.PORTAL, "UPSTREAM_API_URL": server.url, "UPSTREAM_TIMEOUT_SECONDS": 5}
        yield server


def test_an_admitted_request_is_forwarded_with_who_called(client, world, upstream):
    # given the upstream answers 207 with its own body
    upstream.status, upstream.body = 207, {"response": [1, 2, 3]}

    # when
    response = client.get(api_url("acme", "product-service/product-search?sku=A%2B1&pageSize=5"),
                          **world.issued.headers())

    # then the client gets the upstream's answer with the gateway's headers
    assert response.status_code == 207
    assert response.json() == {"response": [1, 2, 3]}
    assert response["brightpearl-requests-remaining"] == "199"
    (received,) = upstream.received
    assert received["method"] == "GET"
    assert received["path"] == "/upstream-api/acme/product-service/product-search?sku=A%2B1&pageSize=5"
    headers = received["headers"]
    assert headers["X-Portal-Account"] == "acme"
    assert headers["X-Portal-App-Ref"] == "acme-sync"
    assert headers["X-Portal-Installation"] == str(world.issued.installation.pk)
    assert "Authorization" not in headers  # the app's token stays with the gateway


def test_bodies_and_methods_are_passed_on(client, world, upstream):
    response = post_json(client, api_url("acme", "warehouse-service/anything/at/all"), {"sku": "X"},
                         **world.issued.headers())

    assert response.status_code == 200
    (received,) = upstream.received
    assert received["method"] == "POST"
    assert received["path"] == "/upstream-api/acme/warehouse-service/anything/at/all"
    assert json.loads(received["body"]) == {"sku": "X"}
    assert received["headers"]["Content-Type"] == "application/json"
    assert not Product.objects.exists()  # the built-in resources are not touched


def test_staff_token_calls_are_forwarded_as_staff(client, world, upstream):
    staff = make_staff_token(world.account)

    client.get(api_url("acme", "order-service/order/1-3"), **staff.headers())

    headers = upstream.received[0]["headers"]
    assert headers["X-Portal-Caller"] == "staff"
    assert headers["X-Portal-Staff-Token"] == str(staff.token.pk)
    assert headers["X-Portal-App-Ref"] == staff.app_ref
    assert "brightpearl-staff-token" not in {name.lower() for name in headers}


def test_refused_requests_never_reach_the_upstream(client, world, upstream):
    # (a limit of 1: the wrong-account call, made with the real token, uses it up; the bogus token's call
    # is counted in the failed-authentication pool, not the installation's)
    set_default_limit(1)

    wrong_account = client.get(api_url("globex", "product-service/product/1"), **world.issued.headers())
    unauthorised = client.get(api_url("acme", "product-service/product/1"),
                              headers={"Authorization": "Bearer nope", "brightpearl-app-ref": "acme-sync"})
    throttled = client.get(api_url("acme", "product-service/product/1"), **world.issued.headers())

    assert (unauthorised.status_code, throttled.status_code, wrong_account.status_code) == (401, 503, 403)
    assert upstream.received == []


def test_upstream_down_is_a_502_envelope(client, world, settings):
    # given an upstream address where nothing listens
    with Upstream() as server:
        url = server.url
    settings.PORTAL = {**settings.PORTAL, "UPSTREAM_API_URL": url, "UPSTREAM_TIMEOUT_SECONDS": 2}

    # when
    response = client.get(api_url("acme", "product-service/product/1"), **world.issued.headers())

    # then
    assert response.status_code == 502
    assert response.json()["errors"][0]["code"] == "UPSTREAM_UNAVAILABLE"
    assert "brightpearl-requests-remaining" in response
