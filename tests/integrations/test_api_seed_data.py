"""seed_api_data: thousands of records per account, quickly, once."""


import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.models import Contact, Order, Product
from tests.factories import AccountFactory


@pytest.mark.django_db
def test_seeds_each_account_in_bulk_and_only_once():
    # given
    first, second = AccountFactory(code="outerheaven"), AccountFactory(code="topfurniture")

    # when
    with CaptureQueriesContext(connection) as seeding:
        call_command("seed_api_data", "outerheaven", "topfurniture")
    call_command("seed_api_data", "outerheaven", "topfurniture")

    # then
    for account in (first, second):
        assert Product.objects.filter(account=account).count() == 2000
        assert Contact.objects.filter(account=account).count() == 1500
        assert Order.objects.filter(account=account).count() == 2500
    # in bulk: a few statements per batch, not one per record (speed itself is measured by benchmarks)
    assert len(seeding.captured_queries) < 1000, len(seeding.captured_queries)
    # the orders' contacts are the account's own, and the dates vary
    assert not Order.objects.filter(account=first).exclude(contact__account=first).exists()
    assert Product.objects.filter(account=first).values("updated_on").distinct().count() > 1000


@pytest.mark.django_db
def test_unknown_account_is_an_error():
    with pytest.raises(CommandError, match="nosuch"):
        call_command("seed_api_data", "nosuch", products=1, contacts=1, orders=1)
