"""GET /api/developer/apps/{app_ref}/conformance/: the report for the app's own developer, in the schema."""

import pytest
from rest_framework.test import APIClient

from accounts.api_keys import api_key_create
from portal.conformance import CODES
from tests.factories import AppFactory, DeveloperFactory
from tests.portal.conformance_support import usage, world

pytestmark = pytest.mark.django_db

API = "/api/developer"


def client_of(user) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(user=user, name='tests', actor=user)[1]}")
    return client


def test_the_developer_gets_the_report_of_their_app():
    # given an app that called with an expired token in an early-access account
    developer = DeveloperFactory(partner=True).user
    w = world(user=developer, accounts=1)
    usage(w.installations[0], 5, calls=20, expired_token=1, status_4xx=1)
    # when its developer asks the API
    response = client_of(developer).get(f"{API}/apps/{w.app.client_id}/conformance/")
    # then the report comes back in its stable shape, every check in order, the failed ones with a fix
    assert response.status_code == 200
    body = response.json()
    assert body["app_ref"] == w.app.client_id and body["accounts"] == [w.accounts[0].code]
    assert body["period"]["days"] == 14
    assert [c["code"] for c in body["checks"]] == list(CODES)
    expired = next(c for c in body["checks"] if c["code"] == "refresh_before_expiry")
    assert expired["passed"] is False and expired["fix"]
    assert expired["evidence"] == {"summary": "1 request of 20 carried an access token that had already expired.",
                                   "figures": {"requests": 20, "expired_token_requests": 1}}
    rate = next(c for c in body["checks"] if c["code"] == "success_rate")
    assert rate["evidence"]["figures"]["success_rate"] == 0.95 and rate["passed"] is True and rate["fix"] is None
    assert body["counts"]["failed"] == 2  # and oauth_exchange: never exchanged a code


def test_another_developers_app_is_a_404_and_no_key_is_a_401():
    other = AppFactory()
    developer = DeveloperFactory().user
    response = client_of(developer).get(f"{API}/apps/{other.client_id}/conformance/")
    assert response.status_code == 404
    assert APIClient().get(f"{API}/apps/{other.client_id}/conformance/").status_code == 401


def test_the_path_and_its_shape_are_in_the_schema():
    schema = APIClient().get(f"{API}/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"][f"{API}/apps/{{app_ref}}/conformance/"]["get"]
    assert operation["operationId"] == "apps_conformance"
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    report = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(report["required"]) == {"app_ref", "accounts", "period", "counts", "checks"}
    check = schema["components"]["schemas"]["ConformanceCheck"]
    assert check["properties"]["passed"]["nullable"] is True
    codes = schema["components"]["schemas"][check["properties"]["code"]["allOf"][0]["$ref"].rsplit("/", 1)[1]]
    assert codes["enum"] == list(CODES)
