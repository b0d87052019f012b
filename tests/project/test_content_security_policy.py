"""The Content-Security-Policy: on every response, a fresh nonce per request, and no page that needs
inline code without it (the browser test in tests/browser checks the pages really work under it)."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

from tests.factories import AppFactory, DeveloperFactory

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def policy_of(response) -> dict[str, list[str]]:
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def test_every_page_gets_a_strict_policy_with_a_fresh_nonce(client):
    # when
    first, second = client.get("/"), client.get("/")

    # then scripts come from the portal or carry the request's nonce; nothing is framed or plugged in
    policy = policy_of(first)
    assert policy["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    nonces = [re.search(r"'nonce-([^']+)'", r["Content-Security-Policy"]).group(1) for r in (first, second)]
    assert nonces[0] != nonces[1] and len(nonces[0]) >= 22


def test_api_responses_carry_the_policy_too(client):
    response = client.get("/public-api/acme/product-service/product-search")

    assert response.status_code == 401 and "Content-Security-Policy" in response


def test_the_api_docs_page_has_no_inline_script_or_style(client):
    # when
    page = client.get(reverse("devapi:docs"))
    script = client.get(reverse("devapi:docs") + "?script=")

    # then the page loads everything from files on the portal, and its start script is one of them
    html = page.content.decode()
    assert page.status_code == 200
    assert "<style" not in html
    assert all(tag.group(1) for tag in re.finditer(r"<script(?: src=\"([^\"]+)\")?>", html))
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()
    assert script["Content-Type"].startswith("application/javascript")


def test_no_template_has_an_inline_script_without_the_nonce_or_an_inline_event_handler():
    offenders = []
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        for tag in re.finditer(r"<script\b[^>]*>", text):
            if "src=" not in tag.group(0) and 'nonce="{{ request.csp_nonce }}"' not in tag.group(0):
                offenders.append(f"{template.relative_to(ROOT)}: {tag.group(0)}")
        if re.search(r"<style\b(?![^>]*nonce=)", text):
            offenders.append(f"{template.relative_to(ROOT)}: <style> without the nonce")
        if re.search(r"\son[a-z]+\s*=\s*[\"']", text) or "javascript:" in text:
            offenders.append(f"{template.relative_to(ROOT)}: an inline event handler or javascript: URL")
    assert not offenders, offenders


def test_the_inline_script_of_a_page_carries_the_nonce_of_its_response(client):
    # given a page with an inline script: the usage chart page renders none, so use a template that does
    from django.template import engines
    from django.test import RequestFactory

    from config.middleware import ContentSecurityPolicyMiddleware

    template = engines["django"].from_string('<script nonce="{{ request.csp_nonce }}">1</script>')

    def view(request):
        from django.http import HttpResponse
        return HttpResponse(template.render({}, request))

    # when
    response = ContentSecurityPolicyMiddleware(view)(RequestFactory().get("/"))

    # then
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    assert f'nonce="{nonce}"' in response.content.decode()


def test_a_developer_page_with_charts_still_renders_under_the_policy(client):
    developer = DeveloperFactory().user
    app = AppFactory(user=developer)
    client.force_login(developer)

    response = client.get(reverse("portal:app_detail", args=[app.pk]))

    assert response.status_code == 200 and "Content-Security-Policy" in response
