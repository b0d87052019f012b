"""What the destructive actions of accounts say before they happen (see accounts/confirmation.py).

Each function looks its object up with the view's own scoping, so someone else's token or member is a 404
here too, and returns the words of the confirmation page."""

from django.shortcuts import get_object_or_404
from django.urls import reverse

from accounts.confirmation import Confirmation, plural
from accounts.models import DeveloperApiKey, Membership, PrivateApp, StaffToken
from accounts.selectors import membership_or_404


def _account_crumbs(account) -> list[tuple[str, str]]:
    return [("My accounts", reverse("accounts:my_accounts")),
            (account.code, reverse("accounts:account_detail", args=[account.code]))]


def member_remove(request, code, membership_id) -> Confirmation:
    own = membership_or_404(user=request.user, code=code)
    account = own.account
    target = get_object_or_404(Membership.objects.select_related("user"), pk=membership_id, account=account)
    live_tokens = StaffToken.objects.filter(private_app__account=account, member=target.user,
                                            revoked_at__isnull=True).count()
    who = "You" if target.pk == own.pk else target.user.email
    consequences = [
        f"{who} will lose access to {account.name} ({account.code}) now: its app store, connected apps, "
        "syncs and staff tokens.",
    ]
    if live_tokens:
        consequences.append(f"Every staff token {target.user.email} holds in this account "
                            f"({plural(live_tokens, 'token')}) stops working now.")
    consequences.append("Apps they turned on stay on. You can add them again later.")
    return Confirmation(
        title=f"Remove {target.user.email} from {account.name}?",
        consequences=consequences,
        action=f"Remove {target.user.email}",
        cancel_url=reverse("accounts:account_detail", args=[account.code]),
        crumbs=_account_crumbs(account), context={"nav_section": "accounts"},
    )


def staff_token_revoke(request, code, token_id) -> Confirmation:
    membership = membership_or_404(user=request.user, code=code)
    account = membership.account
    token = get_object_or_404(StaffToken.objects.select_related("member", "private_app"), pk=token_id,
                              private_app__account=account)
    return Confirmation(
        title=f"Revoke the staff token “{token.name}”?",
        consequences=[
            f"Every token stops working now: scripts that send {token.prefix}… to {account.name} "
            f"({account.code}) get 401 from their next request.",
            f"It acts for {token.member.email} under the private app {token.private_app.identifier}.",
            "A revoked token cannot be restored; create a new one if you need it again.",
        ],
        action=f"Revoke “{token.name}”",
        cancel_url=reverse("accounts:staff_tokens", args=[account.code]) + f"#app-{token.private_app_id}",
        crumbs=[*_account_crumbs(account), ("Staff tokens", reverse("accounts:staff_tokens", args=[account.code]))],
        context={"nav_section": "accounts"},
    )


def private_app_delete(request, code, app_id) -> Confirmation:
    membership = membership_or_404(user=request.user, code=code)
    account = membership.account
    private_app = get_object_or_404(PrivateApp, pk=app_id, account=account)
    live = private_app.staff_tokens.filter(revoked_at__isnull=True).count()
    return Confirmation(
        title=f"Delete the private app {private_app.identifier}?",
        consequences=[
            f"Every staff token under it ({plural(live, 'token')}) stops working now in {account.name} "
            f"({account.code}).",
            "The private app and its tokens cannot be restored.",
        ],
        action=f"Delete {private_app.identifier}",
        cancel_url=reverse("accounts:staff_tokens", args=[account.code]),
        crumbs=[*_account_crumbs(account), ("Staff tokens", reverse("accounts:staff_tokens", args=[account.code]))],
        context={"nav_section": "accounts"},
    )


def api_key_revoke(request, key_id) -> Confirmation:
    key = get_object_or_404(DeveloperApiKey, pk=key_id, user=request.user)
    return Confirmation(
        title=f"Revoke the API key “{key.name}”?",
        consequences=[
            f"Every request that sends {key.prefix}… to the developer API is refused from now on: "
            "the key stops working now.",
            "A revoked key cannot be restored; create a new one if you need it again.",
        ],
        action=f"Revoke “{key.name}”",
        cancel_url=reverse("accounts:api_keys"),
        crumbs=[
            ("Developer profile", reverse("accounts:developer_profile")),
            ("API keys", reverse("accounts:api_keys")),
        ],
        context={"nav_section": "apps"},
    )
