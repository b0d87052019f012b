"""Forms that explain themselves: length errors keep what was typed, URLs are checked alike, a bad line is
named as a line, numbers say their range in words, names are unique within their owner's scope."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts import api_keys, staff_tokens
from portal.forms import AppForm, PlatformSettingsForm
from portal.limit_forms import LimitRequestForm
from portal.models import App, ProgressionRequest, Stage
from portal.validation import parse_redirect_uris
from tests.factories import AppFactory, DeveloperFactory, MembershipFactory, make_reviewer

pytestmark = pytest.mark.django_db

VALID = {"name": "Shop Sync", "app_ref": "shop-sync", "short_description": "Keeps shops in sync.",
         "client_type": App.CLIENT_CONFIDENTIAL, "redirect_uris": "https://shop.example.com/callback"}


def test_an_over_long_progression_message_keeps_the_text_and_says_the_limit(client):
    # given a partner's app
    developer = DeveloperFactory(partner=True).user
    app = AppFactory(user=developer)
    client.force_login(developer)
    message = "Please review. " + "x" * 6000

    # when they send a 6,000-character message
    response = client.post(reverse("portal:progression_request", args=[app.pk]), {"message": message})

    # then the page says how long it may be, and the text is still in the box
    html = response.content.decode()
    assert response.status_code == 400
    assert "at most 5000 characters" in html
    assert message in html
    assert not ProgressionRequest.objects.exists()


def test_an_over_long_suspension_reason_and_review_note_keep_the_text(client):
    # given a reviewer and an app
    client.force_login(make_reviewer())
    app = AppFactory(stage=Stage.BETA)
    reason = "y" * 2500

    # when they suspend with a reason that is too long
    response = client.post(reverse("portal:review_app_suspension", args=[app.pk]),
                           {"action": "suspend", "reason": reason})

    # then they are told the limit and keep their text; nothing is suspended
    html = response.content.decode()
    assert response.status_code == 400 and "at most 2000 characters" in html and reason in html
    assert not App.objects.get(pk=app.pk).is_suspended


@pytest.mark.parametrize("field", ["install_callback_url", "uninstall_callback_url", "homepage_url"])
def test_app_urls_need_https_unless_demo_mode_allows_http(settings, field):
    # given a portal outside demo mode
    settings.PORTAL = {**settings.PORTAL, "EGRESS_ALLOW_PRIVATE": False}

    # when an http URL is given, then it is refused like a redirect URI would be
    form = AppForm({**VALID, field: "http://shop.example.com/hook"})
    assert not form.is_valid()
    assert "Use an https URL" in form.errors[field][0]

    # and in demo mode it is accepted
    settings.PORTAL = {**settings.PORTAL, "EGRESS_ALLOW_PRIVATE": True}
    form = AppForm({**VALID, field: "http://shop.example.com/hook"})
    form.is_valid()
    assert field not in form.errors


def test_an_over_long_url_is_told_its_length():
    form = AppForm({**VALID, "homepage_url": "https://shop.example.com/" + "a" * 300})
    assert not form.is_valid()
    assert "200 characters" in " ".join(form.errors["homepage_url"])


def test_a_bad_line_of_the_redirect_uris_is_named_as_a_line_and_cut_short():
    # when the second line has a space in it and the third is very long and plain http
    text = "https://shop.example.com/cb\nhttps://shop.example.com/other cb\nhttp://shop.example.com/" + "z" * 500

    # then each error names its line, the long value is cut short
    with pytest.raises(ValidationError) as raised:
        parse_redirect_uris(text)
    messages = raised.value.messages
    assert messages[0].startswith("Line 2: “https://shop.example.com/other cb” contains a space")
    assert messages[1].startswith("Line 3: ") and "…" in messages[1] and len(messages[1]) < 160


def test_redirect_uris_on_one_line_still_split_on_spaces():
    assert parse_redirect_uris("https://a.example.com/cb https://b.example.com/cb") == [
        "https://a.example.com/cb", "https://b.example.com/cb"]


def test_numbers_out_of_range_say_the_range_in_words():
    # when a reviewer types a huge number into the platform settings and a developer into a limit request
    settings_form = PlatformSettingsForm({"progression_intake_open": "on", "intake_closed_message": "",
                                          "early_access_cap": "99999999999999999999", "default_instance_limit": 0,
                                          "limit_period_seconds": 60, "staff_token_limit": 200})
    limit_form = LimitRequestForm({"requested_limit": "9223372036854775808", "calls_per_period": "-1"})

    # then the errors say the range in words
    assert not settings_form.is_valid() and not limit_form.is_valid()
    assert settings_form.errors["early_access_cap"] == ["Enter a whole number from 1 to 1,000."]
    assert settings_form.errors["default_instance_limit"] == ["Enter a whole number from 1 to 1,000,000."]
    assert limit_form.errors["requested_limit"] == ["Enter a whole number from 1 to 1,000,000."]
    assert "9223372036854775807" not in str(settings_form.errors) + str(limit_form.errors)


def test_duplicate_names_of_keys_and_staff_tokens_are_refused_within_their_owner():
    # given a developer with a key named Laptop, and an account with a token named Nightly
    developer = DeveloperFactory().user
    api_keys.api_key_create(user=developer, name="Laptop", actor=developer)
    owner = MembershipFactory(role="owner")
    account = owner.account
    private_app = staff_tokens.private_app_create(account=account, actor=owner.user,
                                                  identifier=f"{account.code}_jobs", name="Jobs")
    staff_tokens.staff_token_create(private_app=private_app, member=owner.user, name="Nightly", actor=owner.user)

    # when the same names are used again in the same scope, then they are refused
    with pytest.raises(ValidationError, match="already have a key named"):
        api_keys.api_key_create(user=developer, name="laptop", actor=developer)
    with pytest.raises(ValidationError, match="already has a staff token named"):
        staff_tokens.staff_token_create(private_app=private_app, member=owner.user, name="Nightly",
                                        actor=owner.user)

    # and another developer may use the name
    other = DeveloperFactory().user
    api_keys.api_key_create(user=other, name="Laptop", actor=other)
