"""Migration 0005: products, contacts and orders of before keep their data in the Brightpearl shapes."""

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("integrations", "0003_sync_engine")]
AFTER = [("integrations", "0005_brightpearl_shapes")]


@pytest.mark.django_db(transaction=True)
def test_existing_rows_are_carried_over():
    # given the schema of before with a product, a contact and an order
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    account = old.get_model("accounts", "Account").objects.create(code="legacy", name="Legacy")
    product = old.get_model("integrations", "Product").objects.create(
        account=account, sku="OLD-1", name="Old chair", brand="Oldbrand", price=Decimal("12.50"), stock=7)
    contact = old.get_model("integrations", "Contact").objects.create(
        account=account, first_name="Old", last_name="Timer", is_supplier=True)
    order = old.get_model("integrations", "Order").objects.create(
        account=account, contact=contact, reference="SO-1", status="SHIPPED", total=Decimal("99.90"),
        placed_on=timezone.now())

    # when
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps

    # then
    Product = new.get_model("integrations", "Product")
    carried = Product.objects.get(pk=product.pk)
    brand = new.get_model("integrations", "ApiLookup").objects.get(account_id=account.pk, kind="brand",
                                                                  ref_id=carried.brand_id)
    assert (carried.sku, carried.name, brand.name) == ("OLD-1", "Old chair", "Oldbrand")
    price = new.get_model("integrations", "ProductPrice").objects.get(product_id=product.pk)
    assert (price.price_list.code, price.quantity_prices) == ("RETAIL", {"1": "12.5000"})
    assert new.get_model("integrations", "ProductStock").objects.get(product_id=product.pk).on_hand == 7
    moved = new.get_model("integrations", "Order").objects.get(pk=order.pk)
    assert (moved.order_status_id, moved.net, moved.total, moved.contact_id) == (6, Decimal("99.90"), Decimal("99.90"),
                                                                                contact.pk)
    assert new.get_model("integrations", "Contact").objects.get(pk=contact.pk).is_customer is False

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
