"""The developer API's optimisation report: GET /api/developer/apps/{app_ref}/optimisation-report/."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.api_keys import api_key_create
from portal.models import Installation, UsageMinute
from tests.factories import AccountFactory, AppFactory, DeveloperFactory

pytestmark = pytest.mark.django_db

API = "/api/developer"
SINGLE = "GET product-service/product single"


def api_client(raw_key: str) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


@pytest.fixture
def world():
    developer = DeveloperFactory(partner=True).user
    app = AppFactory(user=developer, client_id="my-app")
    first = Installation.objects.create(app=app, account=AccountFactory(code="outerheaven"))
    second = Installation.objects.create(app=app, account=AccountFactory(code="topfurniture"))
    minute = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=5)
    UsageMinute.objects.create(installation=first, minute=minute, calls=150, endpoints={SINGLE: 150})
    UsageMinute.objects.create(installation=second, minute=minute, calls=20, status_4xx=5, expired_token=5,
                               endpoints={"GET order-service/order idset": 20})
    raw_key = api_key_create(user=developer, name="tests", actor=developer)[1]
    return {"app": app, "api": api_client(raw_key)}


def test_the_report_of_every_installation(world):
    # when the developer asks for the app's report
    response = world["api"].get(f"{API}/apps/my-app/optimisation-report/?days=1")
    # then it has the totals, endpoints and findings of both installations, with stable codes
    assert response.status_code == 200
    body = response.json()
    assert body["app_ref"] == "my-app" and body["account"] is None and body["period"]["days"] == 1
    assert body["totals"]["requests"] == 170 and [row["account"] for row in body["limits"]] == ["outerheaven",
                                                                                                "topfurniture"]
    assert body["endpoints"][0]["endpoint"] == SINGLE
    codes = [finding["code"] for finding in body["findings"]]
    assert codes == ["batch_single_id_reads", "expired_token_calls"]
    batch = body["findings"][0]
    assert batch["evidence"]["calls_saved"] == 149 and batch["calls_saved_per_minute"] == 149.0


def test_the_report_of_one_account_and_the_default_period(world):
    response = world["api"].get(f"{API}/apps/my-app/optimisation-report/?account=TopFurniture")
    assert response.status_code == 200
    body = response.json()
    assert body["account"] == "topfurniture" and body["period"]["days"] == 7
    assert [finding["code"] for finding in body["findings"]] == ["expired_token_calls"]


@pytest.mark.parametrize("query", ["days=3", "days=abc", "days=7.0", "days=-1"])
def test_a_bad_period_is_a_400(world, query):
    response = world["api"].get(f"{API}/apps/my-app/optimisation-report/?{query}")
    assert response.status_code == 400
    assert "days" in response.json()


def test_an_account_without_the_app_and_another_developers_app_are_404s(world):
    AccountFactory(code="elsewhere")
    response = world["api"].get(f"{API}/apps/my-app/optimisation-report/?account=elsewhere")
    assert response.status_code == 404 and response.json() == {"detail": "This app is not installed in that account."}
    AppFactory(client_id="not-mine")
    assert world["api"].get(f"{API}/apps/not-mine/optimisation-report/").status_code == 404


def test_the_schema_documents_the_report(world):
    schema = APIClient().get(f"{API}/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/developer/apps/{app_ref}/optimisation-report/"]["get"]
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    assert parameters["days"]["in"] == "query" and parameters["days"]["schema"]["enum"] == [1, 7, 14]
    assert parameters["account"]["in"] == "query"
    assert set(operation["responses"]) >= {"200", "400", "401", "403", "404"}
    report = schema["components"]["schemas"]["OptimisationReport"]
    assert {"findings", "endpoints", "busiest_minutes", "totals", "peak_to_mean"} <= set(report["properties"])
    finding = schema["components"]["schemas"]["ReportFinding"]
    assert "batch_single_id_reads" in str(finding) and "calls_saved_per_minute" in finding["properties"]
