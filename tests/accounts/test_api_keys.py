"""Developers' API keys: the services, the lookup the developer API uses, and the API keys page."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts import api_keys as services
from accounts.models import AuditEvent, DeveloperApiKey
from accounts.tokens import developer_api_key_lookup, hash_secret
from tests.factories import DeveloperFactory, UserFactory

pytestmark = pytest.mark.django_db


# --- api_key_create / api_key_revoke -------------------------------------------------------------------------


def test_a_key_is_returned_once_and_only_its_hash_is_stored():
    # given a developer
    user = DeveloperFactory().user

    # when they create a key
    key, raw = services.api_key_create(user=user, name=" CI release script ", actor=user)

    # then the raw key is returned, the row keeps its hash and first 8 characters, and it is audited
    assert raw.startswith("pdk_") and len(raw) > 40
    key.refresh_from_db()
    assert (key.user, key.name, key.prefix, key.key_hash) == (user, "CI release script", raw[:8], hash_secret(raw))
    assert raw not in {str(value) for value in DeveloperApiKey.objects.filter(pk=key.pk).values().get().values()}
    event = AuditEvent.objects.get(verb="api_key.created")
    assert (event.actor, event.data["prefix"]) == (user, key.prefix)
    assert raw not in str(event.data)

    # and the developer API finds the key (and its user) by the raw secret
    assert developer_api_key_lookup(raw_key=raw) == key
    assert developer_api_key_lookup(raw_key=raw[:-1]) is None


def test_nobody_creates_a_key_for_someone_else():
    user, other = DeveloperFactory().user, DeveloperFactory().user
    with pytest.raises(PermissionDenied):
        services.api_key_create(user=user, name="Sneaky", actor=other)
    assert not DeveloperApiKey.objects.exists()


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_missing_or_long_name_is_refused(name):
    user = DeveloperFactory().user
    with pytest.raises(ValidationError) as error:
        services.api_key_create(user=user, name=name, actor=user)
    assert "name" in error.value.message_dict
    assert not DeveloperApiKey.objects.exists()


def test_revoking_a_key_stops_it():
    # given a key
    user = DeveloperFactory().user
    key, raw = services.api_key_create(user=user, name="CI", actor=user)

    # when its owner revokes it
    services.api_key_revoke(key=key, actor=user)

    # then it no longer works, the revocation is audited, and it cannot be revoked twice
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert developer_api_key_lookup(raw_key=raw) is None
    assert AuditEvent.objects.filter(verb="api_key.revoked", actor=user, target_id=str(key.pk)).exists()
    with pytest.raises(ValidationError):
        services.api_key_revoke(key=key, actor=user)


def test_only_the_owner_revokes_a_key():
    user, other = DeveloperFactory().user, DeveloperFactory().user
    key, raw = services.api_key_create(user=user, name="CI", actor=user)
    with pytest.raises(PermissionDenied):
        services.api_key_revoke(key=key, actor=other)
    key.refresh_from_db()
    assert key.revoked_at is None and developer_api_key_lookup(raw_key=raw) == key


def test_a_deactivated_users_keys_stop_working():
    user = DeveloperFactory().user
    _, raw = services.api_key_create(user=user, name="CI", actor=user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert developer_api_key_lookup(raw_key=raw) is None


def test_keys_are_listed_active_first():
    user = DeveloperFactory().user
    old, _ = services.api_key_create(user=user, name="old", actor=user)
    services.api_key_revoke(key=old, actor=user)
    first, _ = services.api_key_create(user=user, name="first", actor=user)
    second, _ = services.api_key_create(user=user, name="second", actor=user)
    assert [key.name for key in services.api_keys_of(user=user)] == ["second", "first", "old"]


# --- The API keys page --------------------------------------------------------------------------------------


def test_creating_a_key_shows_it_once(client):
    # given a signed-in developer
    user = DeveloperFactory().user
    client.force_login(user)

    # when they create a key on the page
    response = client.post(reverse("accounts:api_keys"), {"name": "CI release script"})

    # then the next page shows the raw key
    assert response.status_code == 302
    key = DeveloperApiKey.objects.get(user=user)
    page = client.get(reverse("accounts:api_keys")).content.decode()
    raw = page.split('data-testid="api-key" title="Click to select the whole key">', 1)[1].split("<", 1)[0]
    assert key.key_hash == hash_secret(raw)

    # and a second visit lists it by prefix without the secret
    again = client.get(reverse("accounts:api_keys")).content.decode()
    assert raw not in again
    assert f"{key.prefix}…" in again and "CI release script" in again


def test_a_blank_name_shows_the_error(client):
    user = DeveloperFactory().user
    client.force_login(user)
    response = client.post(reverse("accounts:api_keys"), {"name": ""})
    assert response.status_code == 200
    assert "name" in response.context["form"].errors
    assert not DeveloperApiKey.objects.exists()


def test_revoking_through_the_page_and_someone_elses_key_is_a_404(client):
    # given two developers with a key each
    user, other = DeveloperFactory().user, DeveloperFactory().user
    mine, _ = services.api_key_create(user=user, name="Mine", actor=user)
    theirs, _ = services.api_key_create(user=other, name="Theirs", actor=other)
    client.force_login(user)

    # when the first revokes their own key and tries the other's
    assert client.post(reverse("accounts:api_key_revoke", args=[mine.pk]), {"confirm": "yes"}).status_code == 302
    assert client.post(reverse("accounts:api_key_revoke", args=[theirs.pk]), {"confirm": "yes"}).status_code == 404

    # then only their own key is revoked, and the other's key is not listed to them
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.revoked_at is not None and theirs.revoked_at is None
    assert "Theirs" not in client.get(reverse("accounts:api_keys")).content.decode()


def test_users_without_a_developer_profile_are_sent_to_register(client):
    client.force_login(UserFactory())
    response = client.get(reverse("accounts:api_keys"))
    assert response.status_code == 302 and response["Location"] == reverse("accounts:developer_profile")


def test_the_developer_profile_links_to_api_keys(client):
    client.force_login(DeveloperFactory().user)
    page = client.get(reverse("accounts:developer_profile")).content.decode()
    assert f'href="{reverse("accounts:api_keys")}"' in page


def test_the_new_key_comes_with_an_example_request(client):
    client.force_login(DeveloperFactory().user)
    client.post(reverse("accounts:api_keys"), {"name": "CI"})
    page = client.get(reverse("accounts:api_keys")).content.decode()
    assert 'data-testid="api-key-example">curl -H "Authorization: Bearer pdk_' in page
    assert "/api/developer/me/" in page
