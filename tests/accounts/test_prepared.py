"""Hot read queries (accounts/prepared.py): the same rows prepared or not, and a session that lost its prepared
statements (a pooler's DISCARD ALL, a migration) still answers, then prepares them again."""

import pytest
from django.db import connection

from accounts.models import Account
from accounts.prepared import aware_datetime, fetch_one, partial_instance
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db(transaction=True)  # outside a transaction block, as the API's calls run

SQL = "SELECT code, status FROM accounts_account WHERE code = %s"


def test_fetch_one_answers_the_same_row_each_time_and_after_the_session_lost_its_statements():
    AccountFactory(code="acme")

    first = fetch_one("test_account_by_code", SQL, ["acme"])
    second = fetch_one("test_account_by_code", SQL, ["acme"])
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DEALLOCATE ALL")
    after_loss = fetch_one("test_account_by_code", SQL, ["acme"])
    again = fetch_one("test_account_by_code", SQL, ["acme"])

    assert first == second == after_loss == again == ("acme", Account.Status.ACTIVE)
    assert fetch_one("test_account_by_code", SQL, ["nobody"]) is None


def test_a_query_without_parameters_is_prepared_too():
    assert fetch_one("test_constant", "SELECT 1", []) == (1,)
    assert fetch_one("test_constant", "SELECT 1", []) == (1,)


def test_partial_instances_load_their_other_fields_on_access():
    account = AccountFactory(code="globex", name="Globex Corporation")

    partial = partial_instance(Account, "default", id=account.pk, code="globex")

    assert partial.code == "globex" and partial.get_deferred_fields() >= {"name", "status"}
    assert partial.name == "Globex Corporation"  # one query, as with QuerySet.only()
    assert not partial._state.adding


def test_aware_datetime_reads_sqlite_text_and_naive_values_as_utc():
    assert aware_datetime("2026-12-01 10:00:00").isoformat() == "2026-12-01T10:00:00+00:00"
    assert aware_datetime(None) is None
