"""Shared setup of the OAuth server tests: a confidential app early-accessible to an account, its owner
signed in, and helpers to approve consent and call the token endpoint as a form-posting client.

Test modules import the fixtures they use (pytest finds fixtures imported into a module)."""

import base64
import hashlib
import os
import secrets
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
import redis
from django.urls import reverse

from portal import services
from portal.models import App
from tests.factories import AccountFactory, DeveloperFactory, MembershipFactory

REDIRECT = "https://app.example.com/callback"
TOKEN_URL = "/oauth/token/outerheaven"


@pytest.fixture(autouse=True)
def plain_http_on_loopback(monkeypatch):
    """Test servers speak plain http; oauthlib insists on https otherwise."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture(autouse=True)
def fresh_token_pools():
    """The token endpoint's rate-limit pools live in Redis; every test starts with them empty."""
    client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    keys = list(client.scan_iter(match="ratelimit:{oauth-token:*", count=1000))
    if keys:
        client.delete(*keys)
    yield
    client.close()


@pytest.fixture
def world(db):
    developer = DeveloperFactory(partner=True).user
    app, secret = services.app_register(
        actor=developer, app_ref="flow-app", name="Flow App", short_description="Flows.",
        client_type=App.CLIENT_CONFIDENTIAL, redirect_uris=REDIRECT,
    )
    owner = MembershipFactory(account=AccountFactory(code="outerheaven")).user
    services.early_access_add(app=app, account_code="outerheaven", actor=developer)
    return {"app": app, "secret": secret, "owner": owner, "developer": developer,
            "account": app.early_access.get().account}


def approve(client, account_code="outerheaven", *, decision="allow", **extra):
    """Show the consent page as the signed-in owner and submit it; returns the final response."""
    url = reverse("integrations:authorize", args=[account_code])
    params = {"response_type": "code", "client_id": "flow-app", "redirect_uri": REDIRECT, "state": "xyz", **extra}
    page = client.get(url, params)
    if page.status_code != 200:
        return page
    query = "&".join(f"{key}={quote(str(value), safe='')}" for key, value in params.items())
    return client.post(f"{url}?{query}", {"decision": decision})


def redirect_query(response) -> dict:
    assert response.status_code == 302, response.content[:500]
    return {key: values[0] for key, values in parse_qs(urlsplit(response["Location"]).query).items()}


def code_from(response) -> str:
    query = redirect_query(response)
    assert query.get("state") == "xyz" and "code" in query, query
    return query["code"]


def post_form(client, path=TOKEN_URL, *, basic: tuple[str, str] | None = None, **data):
    """A token-endpoint request as real clients send it: a URL-encoded form, optionally HTTP Basic."""
    extra = {}
    if basic is not None:
        pair = f"{quote(basic[0], safe='')}:{quote(basic[1], safe='')}".encode()
        extra["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(pair).decode()
    return client.post(path, urlencode(data), content_type="application/x-www-form-urlencoded", **extra)


def exchange(client, world, code, **overrides):
    data = {"grant_type": "authorization_code", "code": code, "client_id": "flow-app",
            "client_secret": world["secret"], "redirect_uri": REDIRECT, **overrides}
    return post_form(client, **{key: value for key, value in data.items() if value is not None})


def refresh(client, world, refresh_token, **overrides):
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": "flow-app",
            "client_secret": world["secret"], **overrides}
    return post_form(client, **{key: value for key, value in data.items() if value is not None})


def connected(client, world) -> dict:
    """Approve and exchange: the token response of a fresh installation."""
    client.force_login(world["owner"])
    response = exchange(client, world, code_from(approve(client)))
    assert response.status_code == 200, response.content
    return response.json()


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge
