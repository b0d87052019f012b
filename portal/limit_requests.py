"""The developer's rate-limit increase request, sent with the evidence of the app's usage.

Apart from the other limit services (``portal.limits``) because it reads the optimisation report
(``portal.optimisation``), which reads the limits: submitting sits above both.
"""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import Account
from portal.limits import Status, default_limit_per_minute
from portal.locks import lock_own_app
from portal.models import App, RateLimitIncreaseRequest
from portal.optimisation import limit_request_evidence


@transaction.atomic
def limit_request_submit(
    *, app: App, actor, use_case: str, calls_per_period: int, period: str, processing_time: str,
    optimisations: str, requested_limit: int, account: Account | None = None, requested_until: date | None = None,
) -> RateLimitIncreaseRequest:
    """The app's developer asks for a higher API rate limit, for every installation (``account`` None)
    or for the installation in one account.

    Requires the actor to own the app (PermissionDenied otherwise). Refused with a ValidationError,
    nothing created, when: the app is suspended; a description is empty; the period is unknown; the
    limit wanted is not above the current default; ``requested_until`` is not in the future; the
    account has neither an installation of the app nor early access; or a request for the same scope
    is already pending. Stores the optimisation report of the request's scope over the last 14 days, with
    the what-if at the limit asked for, as the request's ``evidence`` (what the reviewer sees beside the
    answers). Writes ``limit_request.submitted``."""
    app = lock_own_app(app, actor)
    if app.is_suspended:
        raise ValidationError("A suspended app cannot ask for a higher limit.")
    errors = {}
    texts = {"use_case": (use_case, "Say what the app is doing with these calls."),
             "processing_time": (processing_time, "Say how fast these calls must be processed."),
             "optimisations": (optimisations, "Say what you have already done to make fewer calls.")}
    for name, (value, message) in texts.items():
        if not (value or "").strip():
            errors[name] = message
    if not calls_per_period or calls_per_period < 1:
        errors["calls_per_period"] = "Give the number of calls, at least 1."
    if period not in RateLimitIncreaseRequest.Period.values:
        errors["period"] = "Choose per minute, per hour or per day."
    default = default_limit_per_minute()
    if not requested_limit or requested_limit <= default:
        errors["requested_limit"] = f"Ask for more than the default of {default} calls per minute."
    if requested_until is not None and requested_until <= timezone.localdate():
        errors["requested_until"] = "Choose a date after today, or leave it empty."
    if account is not None and not (
        app.installations.filter(account=account).exists() or app.early_access.filter(account=account).exists()
    ):
        errors["account"] = f"{account.code} has neither turned this app on nor has early access to it."
    if errors:
        raise ValidationError(errors)
    scope = account.code if account is not None else "all installations"
    same_scope = app.limit_requests.filter(status=Status.PENDING)
    same_scope = same_scope.filter(account=account) if account is not None else same_scope.filter(account__isnull=True)
    if same_scope.exists():
        raise ValidationError(f"A request for {scope} is already waiting for review. Withdraw it to send a new one.")
    limit_request = RateLimitIncreaseRequest.objects.create(
        app=app, account=account, use_case=use_case.strip(), calls_per_period=calls_per_period, period=period,
        processing_time=processing_time.strip(), optimisations=optimisations.strip(),
        requested_limit=requested_limit, requested_until=requested_until, submitted_by=actor,
        evidence=limit_request_evidence(app=app, account=account, requested_limit=requested_limit),
    )
    audit_record(actor=actor, verb="limit_request.submitted", target=limit_request, app_ref=app.client_id, data={
        "scope": scope, "requested_limit": requested_limit,
        "requested_until": requested_until.isoformat() if requested_until else None,
    })
    return limit_request
