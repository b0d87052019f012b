"""Pages for developers, account members and partner reviewers.

Views are thin: they parse a form, call one service, then add a message and redirect. Querysets are
scoped to the signed-in user, so someone else's account is a 404, not a 403.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts import confirmations, services
from accounts.conf import accounts_settings
from accounts.confirmation import confirm_first
from accounts.decorators import developer_required, reviewer_required
from accounts.forms import (
    DeveloperContactForm,
    DeveloperRegisterForm,
    MemberAddForm,
    NotificationReadForm,
    PartnerApplicationForm,
    PartnerDecisionForm,
    ShowBetaAppsForm,
    UsageAlertsMuteForm,
)
from accounts.models import DeveloperProfile, Membership, Notification, PartnerApplication
from accounts.notifications import notification_mark_read
from accounts.refusals import apply_refusal, refusal_messages, reported_refusal
from accounts.selectors import membership_or_404

# --- Developer profile and partner application ---------------------------------------------------------


def _latest_application(profile: DeveloperProfile) -> PartnerApplication | None:
    return profile.partner_applications.order_by("-submitted_at", "-id").first()


@login_required
def developer_profile(request):
    profile = DeveloperProfile.objects.filter(user=request.user).first()
    if profile is None:
        return _developer_register(request)

    form = DeveloperContactForm(request.POST or None, initial={
        "company": profile.company, "contact_name": profile.contact_name,
        "contact_phone": profile.contact_phone, "website": profile.website,
    })
    if request.method == "POST" and form.is_valid():
        try:
            services.developer_profile_update(profile=profile, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_refusal(form, error)
        except PermissionDenied as error:
            messages.error(request, refusal_messages(error)[0])
        else:
            messages.success(request, "Your developer profile is saved.")
            return redirect("accounts:developer_profile")
    return render(request, "accounts/developer_profile.html", {
        "nav_section": "apps",
        "profile": profile,
        "form": form,
        "application": _latest_application(profile),
        "can_apply": profile.partner_status in (DeveloperProfile.PartnerStatus.NONE,
                                                DeveloperProfile.PartnerStatus.REJECTED),
    })


def _developer_register(request):
    form = DeveloperRegisterForm(request.POST or None, initial={"contact_name": request.user.full_name})
    if request.method == "POST" and form.is_valid():
        try:
            profile = services.developer_profile_create(user=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_refusal(form, error)
        else:
            messages.success(request, f"You are registered as developer {profile.dev_ref}.")
            return redirect("accounts:developer_profile")
    return render(request, "accounts/developer_register.html", {"nav_section": "apps", "form": form})


@developer_required
def partner_apply(request):
    profile = request.user.developer_profile
    if profile.partner_status in (DeveloperProfile.PartnerStatus.APPROVED, DeveloperProfile.PartnerStatus.APPLIED):
        messages.info(request, "You are already a partner." if profile.is_partner
                      else "Your partner application is waiting for review.")
        return redirect("accounts:developer_profile")

    form = PartnerApplicationForm(request.POST or None, initial={
        "company_name": profile.company, "website": profile.website,
    })
    if request.method == "POST" and form.is_valid():
        try:
            services.partner_application_submit(profile=profile, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_refusal(form, error)
        except PermissionDenied as error:
            messages.error(request, refusal_messages(error)[0])
        else:
            messages.success(request, "Thank you. Your partner application is waiting for review; "
                                      "we will tell you in your inbox when it is decided.")
            return redirect("accounts:developer_profile")
    return render(request, "accounts/partner_apply.html", {
        "nav_section": "apps", "profile": profile, "form": form, "previous": _latest_application(profile),
    })


# --- Platform accounts and members ------------------------------------------------------------------------


ROLE_ORDER = [Membership.Role.OWNER, Membership.Role.ADMIN, Membership.Role.STAFF]


@login_required
def my_accounts(request):
    memberships = (
        Membership.objects.filter(user=request.user)
        .select_related("account")
        .annotate(member_count=Count("account__memberships"))
        .order_by("account__code")
    )
    return render(request, "accounts/my_accounts.html", {"nav_section": "accounts", "memberships": memberships})


def _render_account(request, membership: Membership, *, add_form=None, status=200):
    account = membership.account
    members = sorted(account.memberships.select_related("user", "added_by"),
                     key=lambda member: (ROLE_ORDER.index(member.role), member.user.email))
    datacentres = dict(accounts_settings.DATACENTRES)
    is_owner = membership.role == Membership.Role.OWNER
    owners = [member.pk for member in members if member.role == Membership.Role.OWNER]
    return render(request, "accounts/account_detail.html", {
        "nav_section": "accounts",
        "account": account,
        "membership": membership,
        "members": members,
        "datacentre_label": datacentres.get(account.datacentre, account.datacentre),
        "is_owner": is_owner,
        # The last owner cannot be removed, so they get no Remove button.
        "sole_owner_pk": owners[0] if len(owners) == 1 else None,
        "can_manage": membership.can_manage,
        "add_form": add_form if add_form is not None else (MemberAddForm() if is_owner else None),
    }, status=status)


@login_required
def account_detail(request, code):
    return _render_account(request, membership_or_404(user=request.user, code=code))


@login_required
@require_POST
def member_add(request, code):
    membership = membership_or_404(user=request.user, code=code)
    account = membership.account
    form = MemberAddForm(request.POST)
    if form.is_valid():
        try:
            added = services.account_member_add(account=account, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_refusal(form, error)
        except PermissionDenied as error:
            messages.error(request, refusal_messages(error)[0])
            return redirect("accounts:account_detail", code=account.code)
        else:
            messages.success(request, f"{added.user.email} is now {added.get_role_display().lower()} "
                                      f"of {account.code}.")
            return redirect("accounts:account_detail", code=account.code)
    return _render_account(request, membership, add_form=form)


@login_required
@confirm_first(confirmations.member_remove)
@require_POST
def member_remove(request, code, membership_id):
    own = membership_or_404(user=request.user, code=code)
    target = get_object_or_404(Membership.objects.select_related("user"), pk=membership_id, account=own.account)
    with reported_refusal(request) as refusal:
        services.account_member_remove(membership=target, actor=request.user)
    if not refusal:
        messages.success(request, f"{target.user.email} is no longer a member of {own.account.code}.")
        if target.pk == own.pk:
            return redirect("accounts:my_accounts")
    return redirect("accounts:account_detail", code=own.account.code)


@login_required
@require_POST
def account_show_beta(request, code):
    membership = membership_or_404(user=request.user, code=code)
    form = ShowBetaAppsForm(request.POST)
    form.is_valid()  # a missing or false box means "do not show"
    show = bool(form.cleaned_data.get("show"))
    with reported_refusal(request) as refusal:
        services.account_set_show_beta_apps(account=membership.account, show=show, actor=request.user)
    if not refusal:
        messages.success(request, "Beta apps now show in this account's store." if show
                         else "Beta apps no longer show in this account's store (unless it has early access).")
    return redirect("accounts:account_detail", code=code)


@login_required
@require_POST
def account_usage_alerts(request, code):
    membership = membership_or_404(user=request.user, code=code)
    form = UsageAlertsMuteForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors["muted"][0])
        return redirect("accounts:account_detail", code=code)
    muted = form.cleaned_data["muted"]
    with reported_refusal(request) as refusal:
        services.account_usage_alerts_mute(actor=request.user, account=membership.account, muted=muted)
    if not refusal:
        messages.success(request, "Owners are no longer told when an app nears its limit in this account." if muted
                         else "Owners will be told when an app nears its limit in this account.")
    return redirect("accounts:account_detail", code=code)


# --- Notifications -------------------------------------------------------------------------------------------


@login_required
def notifications(request):
    inbox = Notification.objects.filter(user=request.user).order_by("-created_at", "-id")
    page = Paginator(inbox, 30).get_page(request.GET.get("page"))
    return render(request, "accounts/notifications.html", {
        "nav_section": "notifications",
        "page": page,
        "has_unread": inbox.filter(read_at__isnull=True).exists(),
    })


@login_required
@require_POST
def notifications_read(request):
    form = NotificationReadForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That notification could not be found.")
        return redirect("accounts:notifications")
    notification_id = form.cleaned_data["id"]
    count = notification_mark_read(user=request.user, notification_id=notification_id)
    if notification_id is not None and form.cleaned_data["open"]:
        notification = get_object_or_404(Notification, pk=notification_id, user=request.user)
        if notification.link and url_has_allowed_host_and_scheme(
            notification.link, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return redirect(notification.link)
    elif notification_id is None:
        messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} as read."
                         if count else "Nothing unread.")
    return redirect("accounts:notifications")


# --- Partner review (reviewers) --------------------------------------------------------------------------------


@reviewer_required
def partner_queue(request):
    pending = (
        PartnerApplication.objects.filter(status=PartnerApplication.Status.PENDING)
        .select_related("profile__user")
        .order_by("submitted_at", "id")
    )
    decided = (
        PartnerApplication.objects.exclude(status=PartnerApplication.Status.PENDING)
        .select_related("profile__user", "reviewer")
        .order_by("-decided_at", "-id")[:10]
    )
    return render(request, "accounts/partner_queue.html", {
        "nav_section": "review", "pending": pending, "decided": decided,
    })


@reviewer_required
def partner_review(request, pk):
    application = get_object_or_404(PartnerApplication.objects.select_related("profile__user", "reviewer"), pk=pk)
    decision_forms = {decision: PartnerDecisionForm(decision=decision) for decision in ("approve", "reject")}
    if request.method == "POST":
        decision = request.POST.get("decision")
        if decision not in decision_forms:
            messages.error(request, "Choose approve or reject.")
            return redirect("accounts:partner_review", pk=pk)
        form = decision_forms[decision] = PartnerDecisionForm(request.POST, decision=decision)
        if form.is_valid():
            with reported_refusal(request) as refusal:
                services.partner_application_decide(
                    application=application, actor=request.user,
                    approve=decision == "approve", note=form.cleaned_data["note"],
                )
            if refusal:
                # e.g. another reviewer decided it first; the page then shows that decision.
                return redirect("accounts:partner_review", pk=pk)
            verb = "approved" if decision == "approve" else "rejected"
            messages.success(request, f"The partner application of {application.profile.dev_ref} is {verb}; "
                                      "the developer has been told.")
            return redirect("accounts:partner_queue")
    history = application.profile.partner_applications.exclude(pk=application.pk).order_by("-submitted_at")
    return render(request, "accounts/partner_review.html", {
        "nav_section": "review",
        "application": application,
        "profile": application.profile,
        "approve_form": decision_forms["approve"],
        "reject_form": decision_forms["reject"],
        "history": history,
        "is_pending": application.status == PartnerApplication.Status.PENDING,
    })
