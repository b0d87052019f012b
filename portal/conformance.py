"""The conformance report a progression review rests on: what an app really did in its early-access accounts
over the last days, as a fixed list of checks that each pass, fail or have no evidence either way.

The usage checks are computed here from ``UsageMinute`` (one grouped aggregate query over the period). The
evidence the layers above the portal hold (OAuth code exchanges and install/uninstall callbacks in
integrations, webhooks of managed-sync apps in sync) comes back through ``hooks.tell(CONFORMANCE_EVIDENCE)``,
whose listeners answer ``{code: {"passed", "summary", "figures", optional "fix"}}`` for the codes they know.

A check's ``passed`` is True or False when there is evidence, and None when there is none (no traffic, nothing
to answer, not applicable). Reviewers still decide: the report is shown beside the review stages it backs
(``STAGE_CHECKS``) and never blocks a tick.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import F, Max, Q, Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import AuditEvent
from portal import hooks, limits
from portal.models import App, EarlyAccess, Installation, UsageFigures, UsageMinute

PERIOD_DAYS = 14
SUCCESS_RATE_MIN = 0.95
# Requests in the minute a turn-off happened (and the next one) may have been in flight: only the minutes
# starting at least this long after the turn-off count as calls made while off.
TURN_OFF_GRACE = timedelta(minutes=1)


@dataclass(frozen=True)
class CheckSpec:
    code: str
    title: str
    fix: str  # what to change when the check fails (a listener may say something more precise)


# The checks, in the order every report lists them. Codes are stable: scripts rely on them.
CHECKS = (
    CheckSpec("oauth_exchange", "Completed an OAuth code exchange",
              "Send the person through the authorize page and exchange the code at the account's token endpoint "
              "within its lifetime, with the same redirect URI; keep the refresh token it returns."),
    CheckSpec("refresh_before_expiry", "Refreshed tokens before they expired",
              "Keep the access token's expiry (expires_in) and exchange the refresh token shortly before it; "
              "never send a request with an access token that has expired."),
    CheckSpec("honours_retry_after", "Honoured Retry-After",
              "When a request is throttled, wait as long as its brightpearl-next-throttle-period (or Retry-After) "
              "header says before that installation's next request, and pace requests to stay under the limit."),
    CheckSpec("success_rate", f"At least {SUCCESS_RATE_MIN:.0%} of calls succeeded",
              "Look at the 4xx and 5xx answers on the app's Limits tab: fix malformed requests and unknown ids, "
              "and stop retrying requests that can never succeed."),
    CheckSpec("callbacks_answered", "Answered install and uninstall callbacks with 2xx",
              "Answer the install and uninstall callback URLs with a 2xx status within 5 seconds; do slow work "
              "after answering."),
    CheckSpec("no_calls_after_turn_off", "Stopped calling after being turned off",
              "When the uninstall callback arrives (or any request is refused with 401), stop calling for that "
              "account and forget its tokens until it turns the app on again."),
    CheckSpec("webhooks_answered", "Answered sync webhooks with 2xx",
              "Answer the managed sync's webhook URL with a 2xx status quickly and process the batch afterwards; "
              "a webhook that keeps failing is paused."),
    CheckSpec("within_limit", "Stayed within the rate limit",
              "Spread calls over the minute, batch single-id reads into id sets and replace polling with "
              "webhooks; if the app really needs more, ask for a higher limit on the Limits tab."),
)
CHECK_SPECS = {spec.code: spec for spec in CHECKS}
CODES = tuple(spec.code for spec in CHECKS)

# Which review stage each check backs: shown beside that stage's checkbox on the reviewer's page.
STAGE_CHECKS = {
    "functionality": ("oauth_exchange", "callbacks_answered", "success_rate", "webhooks_answered"),
    "code": ("refresh_before_expiry", "honours_retry_after", "within_limit", "no_calls_after_turn_off"),
}


@dataclass(frozen=True)
class Check:
    code: str
    title: str
    passed: bool | None
    summary: str
    figures: dict = field(default_factory=dict)
    fix: str | None = None

    def as_dict(self) -> dict:
        return {"code": self.code, "title": self.title, "passed": self.passed,
                "evidence": {"summary": self.summary, "figures": dict(self.figures)},
                "fix": self.fix if self.passed is False else None}


@dataclass(frozen=True)
class ConformanceReport:
    app_ref: str
    accounts: list[str]
    since: datetime
    until: datetime
    days: int
    checks: list[Check]

    @property
    def counts(self) -> dict:
        return {"passed": sum(c.passed is True for c in self.checks),
                "failed": sum(c.passed is False for c in self.checks),
                "no_evidence": sum(c.passed is None for c in self.checks)}

    def as_dict(self) -> dict:
        """The stable JSON shape (stored as the snapshot of a progression request, answered by the API)."""
        return {"app_ref": self.app_ref, "accounts": list(self.accounts),
                "period": {"since": self.since.isoformat(), "until": self.until.isoformat(), "days": self.days},
                "counts": self.counts, "checks": [check.as_dict() for check in self.checks]}


def counted(n: int, word: str, plural: str | None = None) -> str:
    """"1 request", "3 requests", "0 requests" in the evidence's sentences (here and in the layers' listeners)."""
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def conformance_report(*, app: App, now: datetime | None = None, days: int = PERIOD_DAYS) -> ConformanceReport:
    """What ``app`` did in its early-access accounts over the ``days`` before ``now``, check by check."""
    now = now or timezone.now()
    since = now - timedelta(days=days)
    accounts = list(EarlyAccess.objects.filter(app=app).order_by("account__code")
                    .values_list("account_id", "account__code"))
    installations = list(Installation.objects.filter(app=app, account_id__in=[pk for pk, _ in accounts])
                         .select_related("account"))
    found: dict[str, dict] = {}
    if installations:
        found.update(_usage_checks(installations=installations, since=since, now=now))
        for code, answer in hooks.tell(hooks.CONFORMANCE_EVIDENCE, app=app, installations=installations,
                                       since=since, now=now).items():
            if code in CHECK_SPECS:
                found[code] = answer
    if not accounts:
        empty = "The app has no early-access accounts, so there is nothing to look at."
    elif not installations:
        empty = "No early-access account has turned the app on."
    else:
        empty = "No evidence either way in this period."
    checks = []
    for spec in CHECKS:
        answer = found.get(spec.code) or {"passed": None, "summary": empty, "figures": {}}
        checks.append(Check(code=spec.code, title=spec.title, passed=answer.get("passed"),
                            summary=answer.get("summary") or empty, figures=answer.get("figures") or {},
                            fix=answer.get("fix") or spec.fix))
    return ConformanceReport(app_ref=app.client_id, accounts=[code for _, code in accounts], since=since,
                             until=now, days=days, checks=checks)


# --- Usage-based checks ---------------------------------------------------------------------------------

def _off_periods(installations: list[Installation], since: datetime, now: datetime) -> list[tuple[int, datetime,
                                                                                                   datetime]]:
    """(installation id, from, until) for each stretch in [since, now] an installation spent turned off:
    the current one from ``disabled_at``, earlier ones from the audit log's turn-off and turn-on events."""
    periods = []
    by_id = {str(i.pk): i for i in installations}
    events = (AuditEvent.objects.filter(target_type=Installation._meta.label_lower, target_id__in=list(by_id),
                                        verb__in=("installation.turned_off", "installation.turned_on"),
                                        created_at__lte=now)
              .order_by("target_id", "created_at", "id").values_list("target_id", "verb", "created_at"))
    off_since: dict[str, datetime] = {}
    for target_id, verb, at in events:
        if verb == "installation.turned_off":
            off_since.setdefault(target_id, at)
        elif target_id in off_since:
            start = off_since.pop(target_id)
            if at > since:
                periods.append((int(target_id), max(start, since), at))
    for installation in installations:
        if not installation.is_enabled and installation.disabled_at is not None:
            periods.append((installation.pk, max(installation.disabled_at, since), now))
    return periods


def _usage_checks(*, installations: list[Installation], since: datetime, now: datetime) -> dict[str, dict]:
    periods = _off_periods(installations, since, now)
    # Whole minutes only: from the first minute starting a grace after the turn-off to the last one that ended
    # before the turn-on.
    while_off = Q()
    for installation_id, start, end in periods:
        while_off |= Q(installation_id=installation_id, minute__gte=start + TURN_OFF_GRACE,
                       minute__lte=end - timedelta(minutes=1))
    demand = F("calls") + F("throttled")
    summed = UsageFigures.COUNTERS
    # Requests the gateway saw naming a turned-off installation, and, for stretches it did not mark (counted
    # before it did), every request of the whole minutes the installation spent off.
    extra = {"sum_off_minutes": Sum(demand + F("failed"), filter=while_off)} if periods else {}
    rows = [
        {"installation_id": row["installation_id"], "peak": row["peak"], "throttled_peak": row["throttled_peak"],
         **{name: row[f"sum_{name}"] or 0 for name in summed},
         "while_off": max(row["sum_while_off"] or 0, row.get("sum_off_minutes") or 0)}
        for row in UsageMinute.objects.filter(installation__in=installations, minute__gte=since, minute__lt=now)
        .values("installation_id")
        .annotate(peak=Max(demand), throttled_peak=Max(demand, filter=Q(throttled__gt=0)), **extra,
                  **{f"sum_{name}": Sum(name) for name in summed})
        .order_by("installation_id")
    ]
    total = {name: sum(row[name] for row in rows) for name in summed}
    requests = total["calls"] + total["throttled"] + total["failed"]
    checks = {
        "refresh_before_expiry": _refresh_check(total, requests),
        "honours_retry_after": _retry_after_check(total),
        "success_rate": _success_check(total),
        "no_calls_after_turn_off": _turn_off_check(total, periods),
        "within_limit": _limit_check(total, rows, installations, now),
    }
    return checks


def _refresh_check(total: dict, requests: int) -> dict:
    expired = total["expired_token"]
    figures = {"requests": requests, "expired_token_requests": expired}
    if not requests:
        return {"passed": None, "summary": "No API requests in this period.", "figures": figures}
    if expired:
        return {"passed": False, "figures": figures,
                "summary": f"{counted(expired, 'request')} of {requests:,} carried an access token that had "
                           "already expired."}
    return {"passed": True, "figures": figures,
            "summary": f"None of {counted(requests, 'request')} carried an expired access token."}


def _retry_after_check(total: dict) -> dict:
    inside, throttled = total["in_retry_wait"], total["throttled"]
    figures = {"throttled": throttled, "requests_in_retry_wait": inside}
    if inside:
        return {"passed": False, "figures": figures,
                "summary": f"{counted(inside, 'request was', 'requests were')} sent before a Retry-After wait "
                           "had run out."}
    if not throttled:
        return {"passed": None, "figures": figures,
                "summary": "The app was never throttled, so it was never asked to wait."}
    return {"passed": True, "figures": figures,
            "summary": f"Throttled {counted(throttled, 'time')}; no request was sent before its Retry-After "
                       "had run out."}


def _success_check(total: dict) -> dict:
    calls = total["calls"]
    ok = max(calls - total["status_4xx"] - total["status_5xx"], 0)
    rate = round(ok / calls, 4) if calls else None
    figures = {"calls": calls, "status_2xx": ok, "status_4xx": total["status_4xx"],
               "status_5xx": total["status_5xx"], "success_rate": rate}
    if not calls:
        return {"passed": None, "figures": figures, "summary": "No admitted API calls in this period."}
    sentence = (f"{rate:.1%} of {counted(calls, 'admitted call')} were answered 2xx "
                f"({total['status_4xx']:,} 4xx, {total['status_5xx']:,} 5xx).")
    return {"passed": rate >= SUCCESS_RATE_MIN, "figures": figures, "summary": sentence}


def _turn_off_check(total: dict, periods: list) -> dict:
    after = total["while_off"]
    figures = {"turn_offs": len(periods), "requests_while_off": after}
    if not periods:
        return {"passed": None, "figures": figures,
                "summary": "No early-access account turned the app off in this period."}
    if after:
        return {"passed": False, "figures": figures,
                "summary": f"{counted(after, 'request')} named an installation while it was turned off."}
    return {"passed": True, "figures": figures,
            "summary": f"No request named an installation while it was off ({counted(len(periods), 'stretch')} "
                       "turned off)."}


def _limit_check(total: dict, rows: list[dict], installations: list[Installation], now: datetime) -> dict:
    current = limits.installation_limits(installations=installations, now=now)
    busiest = max(rows, key=lambda row: row["peak"] or 0, default=None)
    peak = (busiest["peak"] or 0) if busiest else 0
    limit = current[busiest["installation_id"]] if busiest else None
    figures = {"throttled": total["throttled"], "peak_per_minute": peak,
               "limit_per_minute": limit.per_minute if limit else None}
    if not total["calls"] and not total["throttled"]:
        return {"passed": None, "figures": figures, "summary": "No API calls in this period."}
    if not total["throttled"]:
        return {"passed": True, "figures": figures,
                "summary": f"Never throttled; the busiest minute had {counted(peak, 'call')} "
                           f"(limit {limit.per_minute:,} a minute)."}
    # Throttled: still within bounds if, in every installation that was, the busiest throttled minute fits a
    # grant approved since (the app asked for more and got it).
    def beyond(row) -> bool:
        limit_now = current[row["installation_id"]]
        return limit_now.is_default or row["throttled_peak"] > limit_now.per_minute

    over = [row for row in rows if row["throttled"] and beyond(row)]
    if not over:
        figures["granted_per_minute"] = min(current[row["installation_id"]].per_minute for row in rows
                                            if row["throttled"])
        return {"passed": True, "figures": figures,
                "summary": f"Throttled {counted(total['throttled'], 'time')}, but the busiest minute's demand "
                           f"fits the raised limit of {figures['granted_per_minute']:,} a minute approved for it."}
    worst = max(over, key=lambda row: row["throttled_peak"] or 0)
    figures["peak_per_minute"] = worst["throttled_peak"]
    figures["limit_per_minute"] = current[worst["installation_id"]].per_minute
    return {"passed": False, "figures": figures,
            "summary": f"{counted(total['throttled'], 'call was', 'calls were')} throttled; the busiest minute "
                       f"asked for {worst['throttled_peak']:,} calls against a limit of "
                       f"{figures['limit_per_minute']:,}."}


# --- Display ------------------------------------------------------------------------------------------

# (badge tone, word) of a check's ``passed``; the tones are the stylesheet's badge modifiers.
STATUS_LABELS = {True: ("approved", "Passed"), False: ("rejected", "Failed"), None: ("withdrawn", "No evidence")}


def _fact(name: str, value) -> str:
    if value is None:
        return "—"
    if name.endswith("_rate"):
        return f"{value:.1%}"
    return f"{value:,}" if isinstance(value, int | float) else str(value)


def display(report: dict | None) -> dict | None:
    """A report's dict (live or a stored snapshot) shaped for the pages: each check with its status word
    and tone, the failed ones first in a list of what to fix."""
    if not report:
        return None
    checks = []
    for check in report.get("checks", []):
        tone, label = STATUS_LABELS.get(check.get("passed"), STATUS_LABELS[None])
        checks.append({**check, "tone": tone, "label": label,
                       "facts": [(name.replace("_", " "), _fact(name, value))
                                 for name, value in (check.get("evidence") or {}).get("figures", {}).items()]})
    period = report.get("period") or {}
    return {**report, "checks": checks, "by_code": {c["code"]: c for c in checks},
            "to_fix": [c for c in checks if c["passed"] is False],
            "since": parse_datetime(period.get("since") or ""), "until": parse_datetime(period.get("until") or "")}


def stage_checks(*, stage_key: str, live: dict | None, snapshot: dict | None) -> list[dict]:
    """The checks that back one review stage (``STAGE_CHECKS``), live, each with its status at submission
    when that differs."""
    rows = []
    for code in STAGE_CHECKS.get(stage_key, ()):
        now_check = (live or {}).get("by_code", {}).get(code)
        then_check = (snapshot or {}).get("by_code", {}).get(code)
        shown = now_check or then_check
        if shown is None:
            continue
        changed = bool(now_check and then_check and now_check["passed"] != then_check["passed"])
        rows.append({**shown, "at_submission": then_check if changed else None})
    return rows


def live_display(*, app: App) -> dict:
    """The app's report now, shaped for a page."""
    return display(conformance_report(app=app).as_dict())


def review_display(*, progression, checks) -> dict:
    """For the reviewer's request page: the snapshot taken at submission and the live report; each review
    check (``ReviewCheck``) gets ``evidence``, the conformance checks its stage rests on."""
    snapshot, live = display(progression.conformance), live_display(app=progression.app)
    for check in checks:
        check.evidence = stage_checks(stage_key=check.stage.key, live=live, snapshot=snapshot)
    unchanged = bool(snapshot) and [c["passed"] for c in snapshot["checks"]] == [c["passed"] for c in live["checks"]]
    return {"snapshot": snapshot, "live": live, "live_unchanged": unchanged}
