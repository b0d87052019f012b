"""Property-based run of the developer API against its own OpenAPI schema (Schemathesis).

Every operation gets generated requests, valid and invalid (positive and negative modes), sent with a
valid API key through the project's WSGI application. No answer may be a server error, and each must be
one the schema documents. Path parameters are steered, most of the time, to objects that exist (the
developer's app, its installed account, a pending request), so that the handlers behind the 404s are
exercised too. Bounded: a few examples per operation, no deadline, no example database.
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
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
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
    app_ref: str
    account_code: str
    progression_request_id: int
    limit_request_id: int

    def existing(self, name: str, path: str):
        """A real value for the path parameter ``name`` of the operation at ``path`` (None: no such parameter)."""
        request_id = self.limit_request_id if "/limit-requests/" in path else self.progression_request_id
        return {"app_ref": self.app_ref, "account_code": self.account_code, "code": self.account_code,
                "request_id": request_id}.get(name)


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
    limit = RateLimitIncreaseRequest.objects.create(app=app, submitted_by=developer, use_case="Sync.",
                                                    calls_per_period=9, processing_time="Soon.",
                                                    optimisations="Batching.", requested_limit=500)
    raw = api_key_create(user=developer, name="schemathesis", actor=developer)[1]
    return World(raw_key=raw, app_ref=app.client_id, account_code=account.code,
                 progression_request_id=progression.pk, limit_request_id=limit.pk)


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
    itself, so that Hypothesis still replays and shrinks deterministically)."""
    for name, generated in list((case.path_parameters or {}).items()):
        existing = world.existing(name, case.path)
        if existing is not None and zlib.crc32(repr(generated).encode()) % 4:
            case.path_parameters[name] = existing


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_operation_answers_with_a_server_error(case, world):
    # given a generated request for one operation, sent with a valid key
    _steer(case, world)
    # when it is sent, then the answer is not a 5xx and is as documented
    case.call_and_validate(headers={"Authorization": f"Bearer {world.raw_key}"}, checks=CHECKS)
