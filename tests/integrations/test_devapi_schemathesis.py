"""Property-based run of the developer API against its own OpenAPI schema (Schemathesis).

Every operation gets generated requests, valid and invalid (positive and negative modes), sent with a
valid API key through the project's WSGI application; no answer may be a server error, and each must be
one the schema documents. Path parameters
are steered, most of the time, to objects that exist (the developer's app, its installed account, a
pending request), so the handlers behind the 404s get exercised too. Bounded: a few examples per
operation, no deadline, no example database on disk.
"""

import os
import zlib
from dataclasses import dataclass

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance, not_a_server_error, response_schema_conformance, status_code_conformance,
)

from accounts.api_keys import api_key_create
from portal.models import EarlyAccess, Installation, ProgressionRequest, RateLimitIncreaseRequest
from tests.factories import AccountFactory, AppFactory, DeveloperFactory

# A few examples per operation keeps the run short; DEVAPI_FUZZ_EXAMPLES=500 searches harder.
MAX_EXAMPLES = int(os.environ.get("DEVAPI_FUZZ_EXAMPLES", "25"))
# No 5xx, and every answer is one the schema documents (status, media type, body). Not checked: that
# schema-valid input is accepted (business rules, e.g. an account code that must exist, are not in the
# schema) and that unknown query parameters are refused (they are ignored, as usual).
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass
class World:
    raw_key: str
    path_values: dict[str, object]


@pytest.fixture
def world(db) -> World:
    """A partner with an API key and an app that is installed (so it survives DELETE), with early
    access, a pending progression request and a pending limit request."""
    developer = DeveloperFactory(partner=True, dev_ref="fuzz-dev").user
    account = AccountFactory(code="outerheaven")
    app = AppFactory(user=developer, client_id="fuzz-app")
    Installation.objects.create(app=app, account=account)
    EarlyAccess.objects.create(app=app, account=account, added_by=developer)
    progression = ProgressionRequest.objects.create(app=app, from_stage="in_development", to_stage="alpha",
                                                    submitted_by=developer, message="Ready.")
    limit = RateLimitIncreaseRequest.objects.create(app=app, submitted_by=developer, use_case="Sync.", calls_per_period=9,
                                                    processing_time="Soon.", optimisations="Batching.",
                                                    requested_limit=500)
    raw = api_key_create(user=developer, name="schemathesis", actor=developer)[1]
    return World(raw_key=raw, path_values={
        "app_ref": app.client_id, "account_code": account.code, "code": account.code,
        "request_id": None, "_progression": progression.pk, "_limit": limit.pk,
    })


# Loaded from the running application, as a client would (schema generation needs no database).
# (schemathesis.pytest.from_fixture would load it per test, but its lazy loader does not work with pytest 9.)
schema = schemathesis.openapi.from_wsgi("/api/developer/schema/", get_wsgi_application())


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Like Django's test client: keep the test's database connection (and transaction) across requests
    through the WSGI application."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _steer(case, world: World) -> None:
    """Point three of four generated path values at real objects (decided by the generated value
    itself, so Hypothesis still replays and shrinks deterministically)."""
    values = dict(world.path_values)
    values["request_id"] = values["_limit"] if "/limit-requests/" in case.path else values["_progression"]
    for name, generated in list((case.path_parameters or {}).items()):
        if name in values and zlib.crc32(repr(generated).encode()) % 4:
            case.path_parameters[name] = values[name]


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_operation_answers_with_a_server_error(case, world):
    # given a generated request for one operation, sent with a valid key
    _steer(case, world)
    # when it is sent, then the answer is not a 5xx and is as documented
    case.call_and_validate(headers={"Authorization": f"Bearer {world.raw_key}"}, checks=CHECKS)
