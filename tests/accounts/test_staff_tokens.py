"""Private apps and staff tokens: the services, the gateway's lookup, and the account's staff-tokens page."""

import itertools
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts import staff_tokens as services
from accounts.models import AuditEvent, Membership, PrivateApp, StaffToken
from accounts.tokens import hash_secret, staff_token_lookup
from tests.factories import AccountFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def _member(account, role=Membership.Role.OWNER):
    return MembershipFactory(account=account, role=role).user


def _private_app(account, actor=None, suffix="scripts", name="Nightly scripts") -> PrivateApp:
    actor = actor or _member(account)
    return services.private_app_create(account=account, name=name, identifier=f"{account.code}_{suffix}", actor=actor)


_token_names = itertools.count(1)


def _token(private_app, *, actor=None, member=None, **kwargs):
    """A staff token; each gets its own name (names are unique among an account's live tokens)."""
    account = private_app.account
    actor = actor or Membership.objects.filter(account=account, role=Membership.Role.OWNER).first().user
    name = kwargs.pop("name", None) or f"Stock export {next(_token_names)}"
    return services.staff_token_create(private_app=private_app, member=member or actor, name=name, actor=actor,
                                       **kwargs)


# --- private_app_create -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Membership.Role.OWNER, Membership.Role.ADMIN])
def test_owners_and_admins_add_a_private_app(role):
    # given an account and one of its managers
    account = AccountFactory(code="outerheaven")
    actor = _member(account, role)

    # when they add a private app (the identifier is normalised)
    private_app = services.private_app_create(account=account, name=" Nightly scripts ",
                                              identifier=" OuterHeaven_Stock-1 ", actor=actor)

    # then it exists in the account, and the change is audited
    assert (private_app.account, private_app.name, private_app.identifier) == (account, "Nightly scripts",
                                                                               "outerheaven_stock-1")
    assert private_app.created_by == actor
    event = AuditEvent.objects.get(verb="private_app.created")
    assert (event.actor, event.target_id) == (actor, str(private_app.pk))
    assert event.data["identifier"] == "outerheaven_stock-1"


def test_a_staff_member_cannot_add_a_private_app():
    # given a staff member of the account
    account = AccountFactory()
    staff = _member(account, Membership.Role.STAFF)

    # when they try, then they are refused and nothing is created
    with pytest.raises(PermissionDenied):
        services.private_app_create(account=account, name="Scripts", identifier=f"{account.code}_scripts", actor=staff)
    assert not PrivateApp.objects.exists()
    assert not AuditEvent.objects.filter(verb="private_app.created").exists()


def test_another_accounts_owner_cannot_add_a_private_app():
    # given the owner of a different account
    account, other = AccountFactory(), AccountFactory()
    stranger = _member(other)

    # when they try, then they are refused
    with pytest.raises(PermissionDenied):
        services.private_app_create(account=account, name="Scripts", identifier=f"{account.code}_scripts",
                                    actor=stranger)
    assert not PrivateApp.objects.exists()


@pytest.mark.parametrize("identifier", [
    "scripts",                      # no account prefix
    "{code}scripts",                # no underscore
    "other_scripts",                # another account's prefix
    "{code}_",                      # nothing after the prefix
    "{code}_abc",                   # too short (3)
    "{code}_" + "a" * 17,           # too long (17)
    "{code}_my_app",                # underscore in the suffix
    "{code}_stock export",          # space
    "{code}_stöck",                 # not ASCII
    "",                             # empty
])
def test_malformed_identifiers_are_refused(identifier):
    # given an owner
    account = AccountFactory()
    owner = _member(account)

    # when they use a malformed identifier
    with pytest.raises(ValidationError) as error:
        services.private_app_create(account=account, name="Scripts", identifier=identifier.format(code=account.code),
                                    actor=owner)

    # then the identifier field is refused and nothing is created
    assert "identifier" in error.value.message_dict
    assert not PrivateApp.objects.exists()


@pytest.mark.parametrize("suffix", ["abcd", "a" * 16, "stock-export-01", "0000"])
def test_well_formed_identifiers_are_accepted(suffix):
    account = AccountFactory()
    assert _private_app(account, suffix=suffix).identifier == f"{account.code}_{suffix}"


def test_a_taken_identifier_and_a_missing_name_are_refused():
    # given an account with a private app
    account = AccountFactory()
    owner = _member(account)
    _private_app(account, owner, suffix="scripts")

    # when the same identifier, or no name, is used, then each is refused on its field
    with pytest.raises(ValidationError) as taken:
        services.private_app_create(account=account, name="Again", identifier=f"{account.code}_scripts", actor=owner)
    with pytest.raises(ValidationError) as nameless:
        services.private_app_create(account=account, name="  ", identifier=f"{account.code}_other", actor=owner)
    assert "already taken" in taken.value.message_dict["identifier"][0]
    assert "name" in nameless.value.message_dict
    assert PrivateApp.objects.count() == 1


# --- staff_token_create -----------------------------------------------------------------------------------------


def test_a_token_is_returned_once_and_only_its_hash_is_stored():
    # given a private app and a staff member to act for
    account = AccountFactory()
    owner = _member(account)
    worker = _member(account, Membership.Role.STAFF)
    private_app = _private_app(account, owner)
    expires_at = timezone.now() + timedelta(days=30)

    # when the owner creates a token for the staff member
    token, raw = services.staff_token_create(private_app=private_app, member=worker, name=" Warehouse scanner ",
                                             expires_at=expires_at, actor=owner)

    # then the raw secret is returned, and the row keeps its hash and first 8 characters only
    assert raw.startswith("pst_") and len(raw) > 40
    token.refresh_from_db()
    assert token.token_hash == hash_secret(raw)
    assert token.prefix == raw[:8]
    assert (token.name, token.member, token.created_by, token.expires_at) == ("Warehouse scanner", worker, owner,
                                                                              expires_at)
    stored = StaffToken.objects.filter(pk=token.pk).values().get()
    assert raw not in {str(value) for value in stored.values()}
    event = AuditEvent.objects.get(verb="staff_token.created")
    assert event.data["prefix"] == token.prefix and event.data["member"] == worker.email
    assert raw not in str(event.data)


def test_each_token_gets_a_different_secret():
    account = AccountFactory()
    private_app = _private_app(account)
    (first, raw1), (second, raw2) = _token(private_app), _token(private_app)
    assert raw1 != raw2 and first.token_hash != second.token_hash


def test_the_member_can_be_given_by_email():
    # given a staff member
    account = AccountFactory()
    private_app = _private_app(account)
    worker = _member(account, Membership.Role.STAFF)
    owner = Membership.objects.get(account=account, role=Membership.Role.OWNER).user

    # when the token is created with their email in another case
    token, _ = services.staff_token_create(private_app=private_app, member_email=worker.email.upper(), name="CLI",
                                           actor=owner)

    # then it acts for them
    assert token.member == worker


def test_a_token_must_act_for_a_member_of_the_account():
    # given someone who is a member of another account only
    account = AccountFactory()
    private_app = _private_app(account)
    owner = private_app.created_by
    outsider = _member(AccountFactory())

    # when a token is created for them (by user or by email), or for an unknown email, then it is refused
    for who in ({"member": outsider}, {"member_email": outsider.email}, {"member_email": "nobody@example.com"}, {}):
        with pytest.raises(ValidationError) as error:
            services.staff_token_create(private_app=private_app, name="CLI", actor=owner, **who)
        assert "member" in error.value.message_dict
    assert not StaffToken.objects.exists()


@pytest.mark.parametrize("offset", [timedelta(seconds=-1), timedelta(days=-3), timedelta(0)])
def test_an_expiry_that_is_not_in_the_future_is_refused(offset):
    # given a private app
    private_app = _private_app(AccountFactory())

    # when a token is created with an expiry now or in the past
    with pytest.raises(ValidationError) as error:
        _token(private_app, expires_at=timezone.now() + offset)

    # then it is refused on the expiry field and nothing is created
    assert "expires_at" in error.value.message_dict
    assert not StaffToken.objects.exists()
    assert not AuditEvent.objects.filter(verb="staff_token.created").exists()


@pytest.mark.parametrize("role", [Membership.Role.STAFF, None])
def test_staff_members_and_other_accounts_owners_cannot_create_tokens(role):
    # given a private app, and a staff member of its account or the owner of another account
    account = AccountFactory()
    private_app = _private_app(account)
    actor = _member(account, role) if role else _member(AccountFactory())

    # when they create a token (for themselves), then they are refused
    with pytest.raises(PermissionDenied):
        services.staff_token_create(private_app=private_app, member=actor, name="Mine", actor=actor)
    assert not StaffToken.objects.exists()


# --- staff_token_revoke and private_app_delete ----------------------------------------------------------------


def test_revoking_a_token_stops_it_and_is_audited():
    # given a token
    account = AccountFactory()
    private_app = _private_app(account)
    token, raw = _token(private_app)
    admin = _member(account, Membership.Role.ADMIN)

    # when an admin revokes it
    services.staff_token_revoke(token=token, actor=admin)

    # then it is revoked, audited, no longer found, and cannot be revoked twice
    token.refresh_from_db()
    assert token.revoked_at is not None and not token.is_usable()
    assert AuditEvent.objects.filter(verb="staff_token.revoked", actor=admin, target_id=str(token.pk)).count() == 1
    assert staff_token_lookup(app_ref=private_app.identifier, raw_token=raw) is None
    with pytest.raises(ValidationError):
        services.staff_token_revoke(token=token, actor=admin)


@pytest.mark.parametrize("role", [Membership.Role.STAFF, None])
def test_staff_members_and_other_accounts_owners_cannot_revoke(role):
    account = AccountFactory()
    token, raw = _token(_private_app(account))
    actor = _member(account, role) if role else _member(AccountFactory())
    with pytest.raises(PermissionDenied):
        services.staff_token_revoke(token=token, actor=actor)
    token.refresh_from_db()
    assert token.revoked_at is None


def test_deleting_a_private_app_revokes_its_tokens():
    # given a private app with two tokens, one already revoked, and another app whose token must keep working
    account = AccountFactory()
    owner = _member(account)
    private_app, other_app = _private_app(account, owner, "scripts"), _private_app(account, owner, "backups")
    live, live_raw = _token(private_app, actor=owner)
    old, _ = _token(private_app, actor=owner)
    services.staff_token_revoke(token=old, actor=owner)
    _, other_raw = _token(other_app, actor=owner)

    # when the owner deletes the app
    revoked = services.private_app_delete(private_app=private_app, actor=owner)

    # then its live token was revoked (and audited), the app and its tokens are gone, the other app is untouched
    assert revoked == 1
    assert not PrivateApp.objects.filter(pk=private_app.pk).exists()
    assert not StaffToken.objects.filter(private_app_id=private_app.pk).exists()
    assert staff_token_lookup(app_ref=private_app.identifier, raw_token=live_raw) is None
    assert staff_token_lookup(app_ref=other_app.identifier, raw_token=other_raw) is not None
    assert AuditEvent.objects.filter(verb="staff_token.revoked", target_id=str(live.pk)).exists()
    deleted = AuditEvent.objects.get(verb="private_app.deleted")
    assert deleted.data["revoked_tokens"] == [live.prefix]


def test_a_staff_member_cannot_delete_a_private_app():
    account = AccountFactory()
    private_app = _private_app(account)
    with pytest.raises(PermissionDenied):
        services.private_app_delete(private_app=private_app, actor=_member(account, Membership.Role.STAFF))
    assert PrivateApp.objects.filter(pk=private_app.pk).exists()


# --- staff_token_lookup (used by the gateway) -----------------------------------------------------------------


def test_lookup_finds_a_fresh_token_in_one_query(django_assert_num_queries):
    # given a fresh token
    private_app = _private_app(AccountFactory())
    token, raw = _token(private_app, expires_at=timezone.now() + timedelta(hours=1))

    # when the gateway looks it up, then it gets the token with its app, account and member, in one query
    with django_assert_num_queries(1):
        found = staff_token_lookup(app_ref=private_app.identifier, raw_token=raw)
        assert (found.pk, found.private_app.account.code, found.member.email) == (
            token.pk, private_app.account.code, token.member.email)


def test_lookup_fails_with_the_wrong_app_ref_or_secret():
    # given a token under one app and another app in the same account
    account = AccountFactory()
    owner = _member(account)
    private_app, other_app = _private_app(account, owner, "scripts"), _private_app(account, owner, "backups")
    _, raw = _token(private_app, actor=owner)

    # then it is found only with its own app reference and the exact secret
    assert staff_token_lookup(app_ref=other_app.identifier, raw_token=raw) is None
    assert staff_token_lookup(app_ref="", raw_token=raw) is None
    assert staff_token_lookup(app_ref=private_app.identifier, raw_token=raw[:-1]) is None
    assert staff_token_lookup(app_ref=private_app.identifier, raw_token="") is None
    assert staff_token_lookup(app_ref=private_app.identifier, raw_token=raw) is not None


def test_lookup_fails_once_the_token_has_expired():
    # given a token that expires in an hour
    private_app = _private_app(AccountFactory())
    token, raw = _token(private_app, expires_at=timezone.now() + timedelta(hours=1))
    assert staff_token_lookup(app_ref=private_app.identifier, raw_token=raw) is not None

    # when the hour has passed
    StaffToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    # then it no longer works
    assert staff_token_lookup(app_ref=private_app.identifier, raw_token=raw) is None


def test_lookup_fails_when_the_member_left_the_account_or_was_deactivated():
    # given tokens acting for two staff members
    account = AccountFactory()
    owner = _member(account)
    private_app = _private_app(account, owner)
    leaver, deactivated = _member(account, Membership.Role.STAFF), _member(account, Membership.Role.STAFF)
    _, leaver_raw = _token(private_app, actor=owner, member=leaver)
    _, deactivated_raw = _token(private_app, actor=owner, member=deactivated)

    # when one leaves the account and the other's user is deactivated
    Membership.objects.filter(account=account, user=leaver).delete()
    deactivated.is_active = False
    deactivated.save(update_fields=["is_active"])

    # then neither token works
    assert staff_token_lookup(app_ref=private_app.identifier, raw_token=leaver_raw) is None
    assert staff_token_lookup(app_ref=private_app.identifier, raw_token=deactivated_raw) is None


def test_the_list_shows_each_tokens_status_in_two_queries(django_assert_num_queries):
    # given two apps with active, expired and revoked tokens
    account = AccountFactory()
    owner = _member(account)
    first, second = _private_app(account, owner, "scripts"), _private_app(account, owner, "backups")
    active, _ = _token(first, actor=owner)
    expired, _ = _token(first, actor=owner, expires_at=timezone.now() + timedelta(hours=1))
    StaffToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    revoked, _ = _token(second, actor=owner)
    services.staff_token_revoke(token=revoked, actor=owner)

    # when the list is read
    with django_assert_num_queries(2):
        private_apps = services.private_apps_of_account(account=account)
        statuses = {token.pk: token.status for app in private_apps for token in app.staff_tokens.all()}
        assert [(app.identifier, app.active_token_count) for app in private_apps] == [
            (second.identifier, 0), (first.identifier, 1)]
        assert {token.member.email for app in private_apps for token in app.staff_tokens.all()} == {owner.email}

    # then each token has its status
    assert statuses == {active.pk: "active", expired.pk: "expired", revoked.pk: "revoked"}


# --- The staff-tokens page ------------------------------------------------------------------------------------


def _page(code):
    return reverse("accounts:staff_tokens", args=[code])


def test_creating_a_token_shows_the_secret_once(client):
    # given an owner with a private app
    account = AccountFactory(code="outerheaven")
    owner = _member(account)
    private_app = _private_app(account, owner, "scripts")
    client.force_login(owner)

    # when they create a token through the page
    response = client.post(reverse("accounts:staff_token_create", args=[account.code]), {
        "private_app": private_app.pk, "member": owner.pk, "name": "Stock export", "expires_at": "",
    })

    # then they are sent to the page, which shows the secret and a curl example with both headers
    assert response.status_code == 302
    assert response["Location"] == _page(account.code) + "#new-token"
    token = StaffToken.objects.get()
    page = client.get(_page(account.code)).content.decode()
    raw = page.split('data-testid="staff-token" title="Click to select the whole token">', 1)[1].split("<", 1)[0]
    assert raw.startswith(token.prefix) and token.token_hash == hash_secret(raw)
    assert "brightpearl-app-ref: outerheaven_scripts" in page
    assert f"brightpearl-staff-token: {raw}" in page
    assert "/public-api/outerheaven/product-service/product-search" in page

    # and a second visit lists the token by its prefix but never shows the secret again
    again = client.get(_page(account.code)).content.decode()
    assert raw not in again
    assert f"{token.prefix}…" in again and "Stock export" in again


def test_creating_a_token_with_a_past_expiry_shows_the_error(client):
    account = AccountFactory()
    owner = _member(account)
    private_app = _private_app(account, owner)
    client.force_login(owner)
    yesterday = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    response = client.post(reverse("accounts:staff_token_create", args=[account.code]), {
        "private_app": private_app.pk, "member": owner.pk, "name": "Old", "expires_at": yesterday,
    })

    assert response.status_code == 200
    assert "The expiry must be in the future." in response.context["token_form"].errors["expires_at"]
    assert not StaffToken.objects.exists()


def test_a_token_cannot_be_created_under_another_accounts_private_app(client):
    # given an owner of two accounts' worth of nothing: theirs, and a foreign app
    account = AccountFactory()
    owner = _member(account)
    _private_app(account, owner, "scripts")
    foreign = _private_app(AccountFactory(), suffix="scripts")
    client.force_login(owner)

    # when they post the foreign app's id to their own account's form
    response = client.post(reverse("accounts:staff_token_create", args=[account.code]), {
        "private_app": foreign.pk, "member": owner.pk, "name": "Sneaky",
    })

    # then the form refuses the choice and nothing is created
    assert response.status_code == 200
    assert "private_app" in response.context["token_form"].errors
    assert not StaffToken.objects.exists()


def test_adding_a_private_app_through_the_page(client):
    account = AccountFactory(code="outerheaven")
    owner = _member(account)
    client.force_login(owner)
    url = reverse("accounts:private_app_create", args=[account.code])

    bad = client.post(url, {"name": "Scripts", "identifier": "scripts"})
    assert bad.status_code == 200
    assert "must start with outerheaven_" in str(bad.context["app_form"].errors["identifier"])

    good = client.post(url, {"name": "Scripts", "identifier": "outerheaven_scripts"})
    private_app = PrivateApp.objects.get()
    assert good.status_code == 302 and good["Location"].endswith(f"#app-{private_app.pk}")


def test_revoking_and_deleting_through_the_page(client):
    account = AccountFactory()
    owner = _member(account)
    private_app = _private_app(account, owner)
    token, _ = _token(private_app, actor=owner)
    client.force_login(owner)

    response = client.post(reverse("accounts:staff_token_revoke", args=[account.code, token.pk]), {"confirm": "yes"})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None

    url = reverse("accounts:private_app_delete", args=[account.code, private_app.pk])
    response = client.post(url, {"confirm": "yes"})
    assert response.status_code == 302
    assert not PrivateApp.objects.exists()


def test_staff_members_see_the_list_read_only_and_cannot_create(client):
    # given a staff member of an account with a private app and a token
    account = AccountFactory()
    owner = _member(account)
    private_app = _private_app(account, owner)
    token, _ = _token(private_app, actor=owner)
    staff = _member(account, Membership.Role.STAFF)
    client.force_login(staff)

    # when they open the page, then they see the tokens but no forms or buttons
    page = client.get(_page(account.code))
    html = page.content.decode()
    assert page.status_code == 200
    assert f"{token.prefix}…" in html and private_app.identifier in html
    assert page.context["app_form"] is None and page.context["token_form"] is None
    assert "Revoke" not in html and "Delete app" not in html

    # and posting anyway is refused by the service
    response = client.post(
        reverse("accounts:staff_token_create", args=[account.code]),
        {
            "private_app": private_app.pk,
            "member": staff.pk,
            "name": "Mine",
        },
        follow=True,
    )
    assert StaffToken.objects.count() == 1
    assert "Only owners and admins" in response.content.decode()
    client.post(reverse("accounts:staff_token_revoke", args=[account.code, token.pk]), {"confirm": "yes"})
    token.refresh_from_db()
    assert token.revoked_at is None


def test_non_members_get_404s(client):
    # given an account with a private app and a token, and someone who is not a member
    account = AccountFactory()
    private_app = _private_app(account)
    token, _ = _token(private_app)
    client.force_login(_member(AccountFactory()))

    # then every page and action of that account is a 404, and nothing changes
    assert client.get(_page(account.code)).status_code == 404
    assert (
        client.post(
            reverse("accounts:staff_token_revoke", args=[account.code, token.pk]), {"confirm": "yes"}
        ).status_code
        == 404
    )
    assert (
        client.post(
            reverse("accounts:private_app_delete", args=[account.code, private_app.pk]), {"confirm": "yes"}
        ).status_code
        == 404
    )
    assert (
        client.post(
            reverse("accounts:staff_token_create", args=[account.code]), {"private_app": private_app.pk, "name": "x"}
        ).status_code
        == 404
    )
    token.refresh_from_db()
    assert token.revoked_at is None and PrivateApp.objects.filter(pk=private_app.pk).exists()


def test_a_token_of_another_account_is_a_404_from_your_own_account(client):
    # given an owner of one account and a token of another
    mine = AccountFactory()
    owner = _member(mine)
    token, _ = _token(_private_app(AccountFactory()))
    client.force_login(owner)

    # when they try to revoke it through their own account's URL, then it is not found
    assert (
        client.post(reverse("accounts:staff_token_revoke", args=[mine.code, token.pk]), {"confirm": "yes"}).status_code
        == 404
    )
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_page_shows_the_shared_pool_from_the_platform_settings(client):
    # given the platform's staff-token limit
    from portal.models import PlatformSettings

    PlatformSettings.objects.update_or_create(pk=1, defaults={"staff_token_limit": 150, "limit_period_seconds": 60})
    account = AccountFactory()
    client.force_login(_member(account))

    # then the page shows it, and the account tabs link here
    html = client.get(_page(account.code)).content.decode()
    assert '<p class="stat" data-testid="staff-pool">150</p>' in html
    assert "requests per 60 seconds" in html
    detail = client.get(reverse("accounts:account_detail", args=[account.code])).content.decode()
    assert f'href="{_page(account.code)}"' in detail


def test_anonymous_visitors_are_sent_to_sign_in(client):
    account = AccountFactory()
    response = client.get(_page(account.code))
    assert response.status_code == 302 and "login" in response["Location"]


def test_accounts_does_not_import_portal():
    # Layering: accounts sits below portal, so none of its modules imports portal.
    import ast
    from pathlib import Path

    import accounts

    offenders = []
    for path in Path(accounts.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{path.name}: {name}" for name in names if name.split(".")[0] in {"portal", "integrations"}]
    assert offenders == []


def test_the_admin_shows_prefixes_and_never_hashes(client):
    # given a token, an API key, and a superuser
    from accounts.api_keys import api_key_create
    from tests.factories import DeveloperFactory, UserFactory

    private_app = _private_app(AccountFactory())
    token, _ = _token(private_app)
    developer = DeveloperFactory().user
    key, _ = api_key_create(user=developer, name="CI", actor=developer)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    # when they open the lists and the detail pages
    pages = [
        reverse("admin:accounts_stafftoken_changelist"),
        reverse("admin:accounts_stafftoken_change", args=[token.pk]),
        reverse("admin:accounts_privateapp_change", args=[private_app.pk]),
        reverse("admin:accounts_developerapikey_changelist"),
        reverse("admin:accounts_developerapikey_change", args=[key.pk]),
    ]
    for url in pages:
        response = client.get(url)
        html = response.content.decode()

        # then each shows the prefix, never a hash, and offers no way to change or add rows
        assert response.status_code == 200, url
        assert token.token_hash not in html and key.key_hash not in html
        assert f"{token.prefix}…" in html or f"{key.prefix}…" in html
        assert 'name="_save"' not in html
    assert client.get(reverse("admin:accounts_stafftoken_add")).status_code == 403


def test_removing_a_member_revokes_their_staff_tokens_and_adding_them_again_does_not_bring_them_back():
    # given a staff member with two staff tokens in acme, and one in another account
    from accounts import services as account_services

    account = AccountFactory(code="acme")
    owner = _member(account)
    staff = _member(account, role=Membership.Role.STAFF)
    app = _private_app(account, actor=owner)
    (first, first_raw), (second, second_raw) = _token(app, member=staff), _token(app, member=staff, name="second")
    other = AccountFactory(code="globex")
    other_owner = _member(other)
    Membership.objects.create(account=other, user=staff, role=Membership.Role.STAFF)
    elsewhere, elsewhere_raw = _token(_private_app(other, actor=other_owner), actor=other_owner, member=staff)
    membership = Membership.objects.get(account=account, user=staff)

    # when an owner removes the member, then adds them again
    account_services.account_member_remove(membership=membership, actor=owner)
    account_services.account_member_add(account=account, email=staff.email, role=Membership.Role.STAFF, actor=owner)

    # then their acme tokens stay revoked and do not work; the other account's token is untouched
    assert staff_token_lookup(app_ref=app.identifier, raw_token=first_raw) is None
    assert staff_token_lookup(app_ref=app.identifier, raw_token=second_raw) is None
    assert StaffToken.objects.filter(pk__in=[first.pk, second.pk], revoked_at__isnull=False).count() == 2
    assert staff_token_lookup(app_ref=elsewhere.private_app.identifier, raw_token=elsewhere_raw) is not None
    # and each revocation is audited with the reason, and listed on the removal
    revocations = AuditEvent.objects.filter(verb="staff_token.revoked").order_by("pk")
    assert [(e.target_id, e.data["reason"]) for e in revocations] == [
        (str(first.pk), "member removed"),
        (str(second.pk), "member removed"),
    ]
    removal = AuditEvent.objects.get(verb="account.member_removed")
    assert removal.data["revoked_staff_tokens"] == [first.prefix, second.prefix]
