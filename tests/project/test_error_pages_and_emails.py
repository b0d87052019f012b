"""Portal-styled 404 and 403 pages (also with DEBUG on in demo mode), a 500 page, and emails from the
portal's configured name and address."""

import re

import pytest
from django.core import mail
from django.template.loader import render_to_string
from django.urls import reverse

from tests.factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("debug", [False, True])
def test_a_missing_page_is_the_portals_own_404(client, settings, debug):
    # given the portal in demo mode, with DEBUG on or off
    settings.DEBUG, settings.DEMO_MODE = debug, True
    client.force_login(UserFactory())

    # when an unknown address and an object of someone else's are asked for
    for url in ("/no-such-page/", reverse("portal:store", args=["not-mine"])):
        response = client.get(url)

        # then the portal's page answers, with a way back
        html = response.content.decode()
        assert response.status_code == 404
        assert "We can’t find that page" in html and "Go to your workspace" in html
        assert "URLconf" not in html and "Traceback" not in html


@pytest.mark.parametrize("debug", [False, True])
def test_a_refusal_is_the_portals_own_403(client, settings, debug):
    # given a member who is not a reviewer
    settings.DEBUG, settings.DEMO_MODE = debug, True
    client.force_login(MembershipFactory().user)

    # when they open a reviewer page
    response = client.get(reverse("portal:review_queue"))

    # then the portal's 403 answers with the reason, never Django's debug page
    html = response.content.decode()
    assert response.status_code == 403
    assert "You don’t have access to this page" in html and "Reviewers only." in html


def test_the_500_page_renders_without_a_request():
    # when Django renders the 500 page (no context at all)
    html = render_to_string("500.html")

    # then it is the portal's page
    assert "Something went wrong on our side" in html and "portal.css" in html


def test_sign_up_emails_name_the_portal_and_link_to_its_public_address(client, settings):
    # given a portal whose public address is not the one the request came in on
    settings.SITE_URL, settings.PORTAL_NAME = "https://portal.example.com", "Acme Partner Portal"

    # when someone signs up
    client.post(reverse("account_signup"), {"email": "new@example.com", "password1": PASSWORD,
                                            "password2": PASSWORD})

    # then the confirmation email names the portal and links to its public address
    message = mail.outbox[-1]
    assert "Acme Partner Portal" in message.body and "testserver" not in message.body
    assert re.search(r"https://portal\.example\.com/accounts/confirm-email/\S+", message.body)
