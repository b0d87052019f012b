"""The optimisation report and the what-if of a higher limit, read from the per-minute usage rows.

Pure reads: nothing here writes. ``optimisation_report`` says, for one installation or every installation of
an app over the last 1, 7 or 14 days, where the calls went and what the app could change to make fewer of
them; ``what_if`` replays the recorded demand through the limiter's rule at other limits.

Both read ``UsageMinute`` (see ``UsageFigures`` for what each figure counts) in one query, iterating plain
tuples (epoch minutes and JSON text straight from the database), and the installations and their limits in
a few more (``portal.limits``), however many rows and installations. Per-minute rows are kept
``USAGE_MINUTE_RETENTION_DAYS`` (14 by default): a longer period than that would find fewer rows.
"""

import heapq
import json
import math
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Func, IntegerField, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from portal.limits import default_limit_per_minute, installation_limits, limit_steps
from portal.minutes import minute_of, minute_start
from portal.models import App, Installation, UsageMinute

PERIOD_DAYS = (1, 7, 14)
DEFAULT_DAYS = 7
# The reference's ID-set size: a GET may name about 200 ids (BRIGHTPEARL-API.md, "ID set limit").
ID_SET_SIZE = 200
# An error_rate finding from this share of admitted calls answered 4xx/5xx (expired-token refusals apart,
# they have their own finding), once there are at least ERROR_MIN_CALLS calls to judge by.
ERROR_SHARE = 0.05
ERROR_MIN_CALLS = 20
# Bursty: minutes at the limit while the installation's mean demand is at most this share of its limit,
# so the same work spread out would fit.
BURSTY_MEAN_SHARE = 0.5
TOP_MINUTES = 5


class PeriodError(ValueError):
    """The period asked for is not one of PERIOD_DAYS."""


def report_period(*, days: int, now: datetime | None = None) -> tuple[int, int]:
    """[first, end) epoch minutes of the last ``days`` days: whole minutes, the current one included."""
    if days not in PERIOD_DAYS:
        raise PeriodError(f"Choose a period of {', '.join(map(str, PERIOD_DAYS))} days.")
    end = minute_of(now or timezone.now()) + 1
    return end - days * 1440, end


def _scope(app: App, account) -> list[Installation]:
    installations = app.installations.select_related("account").order_by("account__code")
    if account is not None:
        installations = installations.filter(account=account)
    return list(installations)


def _iso(minute: int) -> str:
    return minute_start(minute).isoformat().replace("+00:00", "Z")


class EpochMinute(Func):
    """Whole minutes since 1970 of a datetime column, computed by the database, so that thousands of rows
    need no datetime conversion in Python."""

    arity = 1
    output_field = IntegerField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, **extra,
                           template="CAST(ROUND((julianday(%(expressions)s) - 2440587.5) * 1440) AS INTEGER)")

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, **extra,
                           template="CAST(FLOOR(EXTRACT(EPOCH FROM %(expressions)s) / 60) AS BIGINT)")


def _usage_rows(installation_ids: list[int], first: int, end: int):
    """(installation id, epoch minute, calls, throttled, failed, 4xx, 5xx, in retry wait, expired token,
    endpoints JSON text, repeated searches JSON text) of the rows in [first, end). One query, plain tuples."""
    rows = (UsageMinute.objects.filter(installation_id__in=installation_ids, minute__gte=minute_start(first),
                                       minute__lt=minute_start(end))
            .order_by().annotate(epoch_minute=EpochMinute("minute"),
                                 endpoints_text=Cast("endpoints", TextField()),
                                 repeated_text=Cast("repeated_searches", TextField()))
            .values_list("installation_id", "epoch_minute", "calls", "throttled", "failed", "status_4xx",
                         "status_5xx", "in_retry_wait", "expired_token", "endpoints_text", "repeated_text"))
    return _plain_rows(rows)


def _plain_rows(queryset):
    """The queryset's rows as the database driver returns them: its columns are integers and text already,
    and skipping the ORM's per-value converters halves the time of a 14-day report."""
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:  # no installations in scope: the query would match nothing
        return
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(5000):
            yield from batch


def _decoded(text: str) -> dict:
    if text in ("{}", "null"):
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


# --- The report ---------------------------------------------------------------------------------------

def _label(key: str) -> str:
    """An evidence key in words: ``single_id_reads`` -> ``single ID reads``."""
    words = {"id": "ID", "4xx": "4xx answers", "5xx": "5xx answers", "status": ""}
    return " ".join(filter(None, (words.get(word, word) for word in key.split("_"))))


@dataclass(frozen=True)
class Finding:
    code: str
    title: str
    advice: str
    calls_saved_per_minute: float
    evidence: dict

    @property
    def saving_shown(self) -> str:
        """``calls_saved_per_minute`` for a page: 47.8, 6, 0.01, 1,234.5."""
        return f"{float(self.calls_saved_per_minute or 0):,.6g}"

    @property
    def figures(self) -> list[tuple[str, object]]:
        """The evidence's single figures, labelled for a page."""
        return [(_label(key), value) for key, value in self.evidence.items() if not isinstance(value, (list, dict))]

    @property
    def breakdown(self) -> tuple[list[str], list[list]]:
        """The evidence's list (by endpoint, by installation) as a table: (headings, rows)."""
        items = next((value for value in self.evidence.values() if isinstance(value, list) and value), [])
        headings = list(items[0]) if items else []
        return [_label(heading) for heading in headings], [[item.get(h) for h in headings] for item in items]

    def as_dict(self) -> dict:
        return {"code": self.code, "title": self.title, "advice": self.advice,
                "calls_saved_per_minute": self.calls_saved_per_minute, "evidence": self.evidence}


@dataclass
class OptimisationReport:
    """What ``as_dict`` returns is the stable shape of the developer API and of the snapshot stored on a limit
    request (``RateLimitIncreaseRequest.evidence["report"]``)."""

    app_ref: str
    account: str | None  # an account code, or None for every installation of the app
    days: int
    first_minute: int
    end_minute: int
    limits: list[dict]
    totals: dict
    endpoints: list[dict]
    busiest_minutes: list[dict]
    peak_requests_per_minute: int
    mean_requests_per_minute: float
    peak_to_mean: float | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def start(self) -> datetime:
        return minute_start(self.first_minute)

    @property
    def end(self) -> datetime:
        return minute_start(self.end_minute)

    @property
    def busiest_minutes_shown(self) -> list[dict]:
        """``busiest_minutes`` with each minute as a datetime, for a page."""
        return [{**row, "minute": datetime.fromisoformat(row["minute"].replace("Z", "+00:00"))}
                for row in self.busiest_minutes]

    @property
    def error_percent(self) -> float:
        return round(self.totals["error_rate"] * 100, 1)

    @property
    def has_requests(self) -> bool:
        return self.totals["requests"] > 0

    def as_dict(self) -> dict:
        return {
            "app_ref": self.app_ref,
            "account": self.account,
            "period": {"days": self.days, "start": _iso(self.first_minute), "end": _iso(self.end_minute),
                       "minutes": self.end_minute - self.first_minute},
            "limits": self.limits,
            "totals": self.totals,
            "endpoints": self.endpoints,
            "busiest_minutes": self.busiest_minutes,
            "peak_requests_per_minute": self.peak_requests_per_minute,
            "mean_requests_per_minute": self.mean_requests_per_minute,
            "peak_to_mean": self.peak_to_mean,
            "findings": [finding.as_dict() for finding in self.findings],
        }


@dataclass
class _Installation:
    """One installation's running figures while the rows stream past."""

    account: str
    limit_now: int
    step_starts: list[int]
    step_limits: list[int]
    requests: int = 0
    throttled: int = 0
    first_minute: int | None = None
    minutes_at_limit: int = 0
    peak: int = 0

    def limit_at(self, minute: int) -> int:
        if len(self.step_starts) == 1:
            return self.step_limits[0]
        return self.step_limits[max(0, bisect_right(self.step_starts, minute) - 1)]


def _endpoint_parts(key: str) -> tuple[str, str, str]:
    parts = key.split(" ")
    if len(parts) != 3:  # not the gateway's "<METHOD> <resource path> <kind>": shown as it is
        return "", key, "other"
    return parts[0], parts[1], parts[2]


def _per_active_minute(count: int, active_minutes: int) -> float:
    """To one decimal, or two below one call (so that a small saving never reads as none)."""
    if not active_minutes:
        return 0.0
    value = count / active_minutes
    return round(value, 1) if value >= 1 else max(round(value, 2), 0.01 if count else 0.0)


def optimisation_report(*, app: App, account=None, days: int = DEFAULT_DAYS,
                        now: datetime | None = None) -> OptimisationReport:
    """The optimisation report of the app's installation in ``account``, or of all its installations
    (``account`` None), over the last ``days`` (1, 7 or 14; PeriodError otherwise).

    Each finding's ``calls_saved_per_minute`` is the requests the change would have saved over the period,
    divided by the period's active minutes (minutes in which the scope sent at least one request), to one
    decimal (two below 1, and at least 0.01 when anything is saved): what the app would save a minute while
    it is working. Findings are computed each on its own,
    so their savings overlap and do not add up (a call inside a Retry-After wait may also be a throttled
    single-ID read). Each finding's evidence also has the whole-period count it was computed from.

    - ``batch_single_id_reads``: per endpoint and minute, n single-ID GETs of one resource would have been
      ceil(n / 200) ID-set GETs; saved n - ceil(n / 200).
    - ``repeated_search``: each request repeating an identical search already sent that minute is saved.
    - ``calls_during_retry_after``: each request sent before a Retry-After the app was given ran out.
    - ``expired_token_calls``: each request sent with an expired access token (refused, then sent again).
    - ``error_rate``: when 4xx and 5xx answers, apart from expired-token refusals, are at least 5% of the
      admitted calls; saved: those 4xx answers (server errors are counted in the rate, not as savings).
    - ``bursty_traffic``: an installation reached its limit in some minutes while its mean demand is at
      most half of it; saved: its throttled requests, which spreading the same work out would avoid.
    """
    first, end = report_period(days=days, now=now)
    installations = _scope(app, account)
    now = now or timezone.now()
    current = installation_limits(installations=installations, now=now)
    steps = limit_steps(installations=installations, start=minute_start(first), end=minute_start(end))
    scope: dict[int, _Installation] = {}
    for installation in installations:
        changes = steps.get(installation.pk) or [(minute_start(first), current[installation.pk].per_minute, False)]
        scope[installation.pk] = _Installation(
            account=installation.account.code, limit_now=current[installation.pk].per_minute,
            step_starts=[minute_of(moment) for moment, _, _ in changes],
            step_limits=[per_minute for _, per_minute, _ in changes])

    calls = throttled = failed = status_4xx = status_5xx = in_retry_wait = expired_token = 0
    retry_minutes = expired_minutes = 0
    by_minute: dict[int, int] = {}
    endpoint_texts: dict[str, int] = {}  # the JSON text of a row's endpoints -> rows with exactly that text
    repeated_texts: dict[str, int] = {}
    busiest: list[tuple] = []
    for (installation_id, minute, row_calls, row_throttled, row_failed, row_4xx, row_5xx, row_retry, row_expired,
         row_endpoints, row_repeated) in _usage_rows(list(scope), first, end):
        calls += row_calls
        throttled += row_throttled
        failed += row_failed
        status_4xx += row_4xx
        status_5xx += row_5xx
        if row_retry:
            in_retry_wait += row_retry
            retry_minutes += 1
        if row_expired:
            expired_token += row_expired
            expired_minutes += 1
        # Rows of one app repeat the same few endpoint mixes: each distinct text is decoded once, at the end.
        if row_endpoints:
            endpoint_texts[row_endpoints] = endpoint_texts.get(row_endpoints, 0) + 1
        if row_repeated:
            repeated_texts[row_repeated] = repeated_texts.get(row_repeated, 0) + 1
        demand = row_calls + row_throttled
        if not demand:
            continue
        by_minute[minute] = by_minute.get(minute, 0) + demand
        one = scope[installation_id]
        one.requests += demand
        one.throttled += row_throttled
        if one.first_minute is None or minute < one.first_minute:
            one.first_minute = minute
        if demand > one.peak:
            one.peak = demand
        limit = one.limit_at(minute)
        if demand >= limit:
            one.minutes_at_limit += 1
        share = demand / limit
        if len(busiest) < TOP_MINUTES:
            heapq.heappush(busiest, (share, demand, minute, installation_id, row_calls, row_throttled, limit))
        elif share >= busiest[0][0]:
            heapq.heappushpop(busiest, (share, demand, minute, installation_id, row_calls, row_throttled, limit))
    endpoints: dict[str, int] = {}
    singles: dict[str, list[int]] = {}  # "GET resource" -> [single reads, calls if batched, most in a minute]
    for text, rows in endpoint_texts.items():
        for key, count in _decoded(text).items():
            if not isinstance(count, int) or count <= 0:
                continue
            endpoints[key] = endpoints.get(key, 0) + count * rows
            if count > 1 and key.startswith("GET ") and key.endswith(" single"):
                figures = singles.setdefault(key[:-7], [0, 0, 0])
                figures[0] += count * rows
                figures[1] += -(-count // ID_SET_SIZE) * rows
                figures[2] = max(figures[2], count)
    repeated: dict[str, int] = {}
    for text, rows in repeated_texts.items():
        for key, count in _decoded(text).items():
            if isinstance(count, int) and count > 0:
                repeated[key] = repeated.get(key, 0) + count * rows

    requests = calls + throttled
    active_minutes = len(by_minute)
    first_active = min(by_minute) if by_minute else end
    peak = max(by_minute.values()) if by_minute else 0
    mean = requests / (end - first_active) if by_minute else 0.0
    totals = {
        "requests": requests, "admitted": calls, "throttled": throttled, "failed": failed,
        "status_2xx": max(0, calls - status_4xx - status_5xx), "status_4xx": status_4xx, "status_5xx": status_5xx,
        "error_rate": round((status_4xx + status_5xx) / calls, 4) if calls else 0.0,
        "in_retry_wait": in_retry_wait, "expired_token": expired_token, "active_minutes": active_minutes,
    }
    endpoint_rows = []
    for key, count in sorted(endpoints.items(), key=lambda item: (-item[1], item[0])):
        method, resource, kind = _endpoint_parts(key)
        endpoint_rows.append({"endpoint": key, "method": method, "resource": resource, "kind": kind,
                              "requests": count, "share": round(count / requests, 4) if requests else 0.0,
                              "repeated_searches": repeated.get(key, 0)})
    report = OptimisationReport(
        app_ref=app.client_id, account=account.code if account is not None else None, days=days,
        first_minute=first, end_minute=end,
        limits=[{"account": one.account, "per_minute": one.limit_now,
                 "is_default": current[pk].is_default,
                 "granted_until": (current[pk].grant.granted_until.isoformat().replace("+00:00", "Z")
                                   if current[pk].grant is not None and current[pk].grant.granted_until else None)}
                for pk, one in scope.items()],
        totals=totals, endpoints=endpoint_rows,
        busiest_minutes=[{"minute": _iso(minute), "account": scope[pk].account, "requests": demand,
                          "admitted": admitted, "throttled": refused, "limit": limit,
                          "share_of_limit": round(share, 3)}
                         for share, demand, minute, pk, admitted, refused, limit in sorted(busiest, reverse=True)],
        peak_requests_per_minute=peak, mean_requests_per_minute=round(mean, 2),
        peak_to_mean=round(peak / mean, 1) if mean else None,
    )
    findings = []
    per_minute = lambda count: _per_active_minute(count, active_minutes)  # noqa: E731
    if singles:
        by_endpoint = sorted(({"endpoint": key, "single_id_reads": n, "calls_if_batched": batched,
                               "calls_saved": n - batched, "most_in_one_minute": most}
                              for key, (n, batched, most) in singles.items() if n > batched),
                             key=lambda item: (-item["calls_saved"], item["endpoint"]))
        saved = sum(item["calls_saved"] for item in by_endpoint)
        if saved:
            top = by_endpoint[0]["endpoint"].split(" ", 1)[1]
            findings.append(Finding(
                code="batch_single_id_reads", title=f"Read {top} by ID sets, not one ID at a time",
                advice=(f"Collect the IDs you need and fetch them in one GET with an ID set (up to {ID_SET_SIZE} IDs, "
                        "e.g. 1001,1002,1005 or a range 1001-1100) instead of one GET per ID. OPTIONS on the "
                        "resource splits a longer list into URIs of the right size."),
                calls_saved_per_minute=per_minute(saved),
                evidence={"single_id_reads": sum(item["single_id_reads"] for item in by_endpoint),
                          "calls_if_batched": sum(item["calls_if_batched"] for item in by_endpoint),
                          "calls_saved": saved, "id_set_size": ID_SET_SIZE, "by_endpoint": by_endpoint}))
    repeats = sum(repeated.values())
    if repeats:
        by_endpoint = [{"endpoint": key, "repeated": count}
                       for key, count in sorted(repeated.items(), key=lambda item: (-item[1], item[0])) if count]
        top = _endpoint_parts(by_endpoint[0]["endpoint"])[1]
        findings.append(Finding(
            code="repeated_search", title=f"Stop repeating identical {top} requests",
            advice=("The same search was sent again within a minute, which returns what the app already has. "
                    "Poll with an updatedOn filter from the time of the last poll so that only changes come back, "
                    "poll less often, or subscribe to webhooks and search only when told something changed."),
            calls_saved_per_minute=per_minute(repeats),
            evidence={"repeated_searches": repeats, "by_endpoint": by_endpoint}))
    if in_retry_wait:
        findings.append(Finding(
            code="calls_during_retry_after", title="Wait for Retry-After before calling again",
            advice=("After a 503 the response's Retry-After header says how many seconds to wait. Pause every "
                    "worker of this installation for that long; calls sent sooner are refused and use up the "
                    "next window."),
            calls_saved_per_minute=per_minute(in_retry_wait),
            evidence={"requests_in_wait": in_retry_wait, "minutes": retry_minutes, "throttled": throttled}))
    if expired_token:
        findings.append(Finding(
            code="expired_token_calls", title="Refresh the access token before it expires",
            advice=("Calls were sent with an access token past its expiry and refused. Refresh it a little before "
                    "expires_in runs out (for example at 90% of its life), and share the fresh token between "
                    "workers instead of waiting for a 401."),
            calls_saved_per_minute=per_minute(expired_token),
            evidence={"requests": expired_token, "minutes": expired_minutes}))
    other_4xx = max(0, status_4xx - expired_token)
    if calls >= ERROR_MIN_CALLS and (other_4xx + status_5xx) / calls >= ERROR_SHARE:
        findings.append(Finding(
            code="error_rate", title="Fix the calls that fail",
            advice=("A notable share of calls was answered with an error. 4xx answers mean the request itself was "
                    "wrong (a missing ID, a bad filter, a body the API refuses): read the error's message, fix the "
                    "request, and do not retry it unchanged. Back off on 5xx answers."),
            calls_saved_per_minute=per_minute(other_4xx),
            evidence={"admitted": calls, "status_4xx": status_4xx, "status_5xx": status_5xx,
                      "expired_token": expired_token, "error_rate": round((other_4xx + status_5xx) / calls, 4),
                      "threshold": ERROR_SHARE}))
    bursty = []
    for one in scope.values():
        if not one.minutes_at_limit or one.first_minute is None:
            continue
        mean_one = one.requests / (end - one.first_minute)
        if mean_one <= BURSTY_MEAN_SHARE * one.limit_now:
            bursty.append({"account": one.account, "limit": one.limit_now, "minutes_at_limit": one.minutes_at_limit,
                           "throttled": one.throttled, "peak_requests_per_minute": one.peak,
                           "mean_requests_per_minute": round(mean_one, 2),
                           "peak_to_mean": round(one.peak / mean_one, 1) if mean_one else None})
    if bursty:
        saved = sum(item["throttled"] for item in bursty)
        findings.append(Finding(
            code="bursty_traffic", title="Spread the calls out instead of sending them in bursts",
            advice=("Some minutes reached the limit while the average stays well below it: the same work paced "
                    "evenly (a queue or a token bucket under the limit, scheduled jobs spread over the hour "
                    "instead of all at :00) would fit without being throttled."),
            calls_saved_per_minute=per_minute(saved),
            evidence={"throttled": saved, "installations": bursty, "mean_share_of_limit": BURSTY_MEAN_SHARE}))
    report.findings = sorted(findings, key=lambda finding: (-finding.calls_saved_per_minute, finding.code))
    return report


# --- What-if ------------------------------------------------------------------------------------------

def _admitted(previous_requests: int, previous_admitted: tuple[int, ...], requests: int, limit: int) -> tuple:
    """Which of a minute's ``requests`` (evenly spread: request i at i/requests of the minute) the sliding log
    admits, given the previous minute's ``previous_requests`` of which ``previous_admitted`` (indices, in
    order) were admitted. Only the previous minute matters: anything older is out of every window.

    The log admits a request when fewer than ``limit`` admits are in the 60 s before it, that is when the
    admit ``limit`` places back is at least 60 s old. For the a-th admit of this minute that admit is
    previous_admitted[s + a - limit] (s admits last minute; none when the index is negative), which is 60 s
    old from the first request at or after the same point of this minute: index ceil(j * requests /
    previous_requests). So each admit takes the later of that request and the one after the previous admit."""
    s = len(previous_admitted)
    admitted = []
    index = -1
    for a in range(limit):
        back = s + a - limit
        if back < 0:
            index += 1
        else:
            earliest = -(-previous_admitted[back] * requests // previous_requests)
            index = earliest if earliest > index else index + 1
        if index >= requests:
            break
        admitted.append(index)
    return tuple(admitted)


def replay(series, limit: int) -> tuple[int, int]:
    """(throttled requests, minutes with a throttled request) when the per-minute demand ``series`` —
    (epoch minute, requests) in ascending minutes, missing minutes meaning none — meets an exact sliding
    log of ``limit`` admits in any rolling 60 s (``integrations/ratelimit.py``), each minute's requests
    arriving evenly spread over it (request i of n at i/n of the minute).

    Exact for that model. Fast where the demand is provably under the limit: when the previous minute's
    requests were all admitted, a minute of at most ``limit`` requests is admitted whole (each request has
    at most its own minute's earlier ones and the previous minute's later ones in its window, fewer than
    ``limit`` together), as is one whose requests and the previous minute's admits number at most
    ``limit``. Only other minutes are replayed request by request, and a repeating pattern of them is
    replayed once (memoised)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    throttled = minutes_throttled = 0
    expected = None
    full = 0  # requests of the previous minute when all of them were admitted
    state = None  # (requests, admitted indices) of the previous minute when some were throttled
    interned: dict = {}
    memo: dict = {}
    for minute, requests in series:
        if minute != expected:
            full, state = 0, None
        expected = minute + 1
        if state is None:
            if requests <= limit:
                full = requests
                continue
            state = (full, tuple(range(full)))
            state = interned.setdefault(state, state)
        elif len(state[1]) + requests <= limit:
            full, state = requests, None
            continue
        key = (id(state), requests)
        outcome = memo.get(key)
        if outcome is None:
            if len(memo) > 50_000:  # a bound on memory for long irregular stretches
                memo.clear()
                interned = {state: state}
            admitted = _admitted(state[0], state[1], requests, limit)
            following = None
            if len(admitted) < requests:
                following = (requests, admitted)
                following = interned.setdefault(following, following)
            outcome = memo[key] = (following, len(admitted))
        state, count = outcome
        if count < requests:
            throttled += requests - count
            minutes_throttled += 1
        if state is None:
            full = requests
    return throttled, minutes_throttled


@dataclass(frozen=True)
class WhatIfRow:
    limit: int | None  # None: each installation at its current limit (which differ)
    throttled: int
    minutes_throttled: int

    def as_dict(self) -> dict:
        return {"limit": self.limit, "throttled": self.throttled, "minutes_throttled": self.minutes_throttled}


@dataclass
class WhatIf:
    """"At N calls a minute, the throttled calls of this period would have fallen from X to Y": X is
    ``current.throttled`` (the replay at each installation's current limit), Y the row of N."""

    app_ref: str
    account: str | None
    days: int
    first_minute: int
    end_minute: int
    recorded_throttled: int
    peak_requests_per_minute: int
    current: WhatIfRow
    rows: list[WhatIfRow]

    APPROXIMATION = ("Replayed from per-minute counts: when within a minute the requests came is not recorded, "
                     "so each minute's are taken as evenly spread over it, and throttled requests that the app "
                     "sent again are counted as demand each time.")

    def row(self, limit: int) -> WhatIfRow | None:
        return next((row for row in self.rows if row.limit == limit), None)

    def as_dict(self) -> dict:
        return {"app_ref": self.app_ref, "account": self.account,
                "period": {"days": self.days, "start": _iso(self.first_minute), "end": _iso(self.end_minute),
                           "minutes": self.end_minute - self.first_minute},
                "recorded_throttled": self.recorded_throttled,
                "peak_requests_per_minute": self.peak_requests_per_minute,
                "current": self.current.as_dict(), "rows": [row.as_dict() for row in self.rows],
                "approximation": self.APPROXIMATION}


def demand_series(*, installations, first: int, end: int) -> tuple[dict[int, list[tuple[int, int]]], int]:
    """Each installation's (epoch minute, calls + throttled) in [first, end), ascending, and the throttled
    calls recorded in that time. One query."""
    ids = [installation.pk for installation in installations]
    series: dict[int, list[tuple[int, int]]] = {pk: [] for pk in ids}
    recorded = 0
    rows = (UsageMinute.objects.filter(installation_id__in=ids, minute__gte=minute_start(first),
                                       minute__lt=minute_start(end))
            .order_by("installation_id", "minute").annotate(epoch_minute=EpochMinute("minute"))
            .values_list("installation_id", "epoch_minute", "calls", "throttled"))
    for installation_id, minute, calls, throttled in _plain_rows(rows):
        if calls or throttled:
            series[installation_id].append((minute, calls + throttled))
            recorded += throttled
    return series, recorded


def what_if(*, app: App, account=None, days: int = DEFAULT_DAYS, limits=(), candidates: bool = False,
            now: datetime | None = None) -> WhatIf:
    """The throttled requests of the period replayed at each installation's current limit (X) and at each of
    ``limits`` calls a minute for every installation in scope (Y), for the app's installation in ``account``
    or all of them; with ``candidates``, also at :func:`candidate_limits` of the highest current limit and the
    peak minute. See :func:`replay` for the model and ``WhatIf.APPROXIMATION`` for what it cannot know."""
    first, end = report_period(days=days, now=now)
    installations = _scope(app, account)
    current = installation_limits(installations=installations, now=now or timezone.now())
    series, recorded_throttled = demand_series(installations=installations, first=first, end=end)
    peak = max((requests for one in series.values() for _, requests in one), default=0)

    def at(limit_of) -> tuple[int, int]:
        throttled = minutes = 0
        for pk, one in series.items():
            t, m = replay(one, limit_of(pk))
            throttled, minutes = throttled + t, minutes + m
        return throttled, minutes

    distinct = {limit.per_minute for limit in current.values()}
    if candidates:
        highest = max(distinct, default=None) or default_limit_per_minute()
        limits = [*limits, *candidate_limits(current=highest, peak=peak)]
    current_row = WhatIfRow(distinct.pop() if len(distinct) == 1 else None,
                            *at(lambda pk: current[pk].per_minute))
    rows = [WhatIfRow(limit, *at(lambda pk, limit=limit: limit)) for limit in sorted(set(limits)) if limit >= 1]
    return WhatIf(app_ref=app.client_id, account=account.code if account is not None else None, days=days,
                  first_minute=first, end_minute=end, recorded_throttled=recorded_throttled,
                  peak_requests_per_minute=peak, current=current_row, rows=rows)


def candidate_limits(*, current: int, peak: int, asked: int | None = None, most: int = 1_000_000) -> list[int]:
    """Limits worth showing in a what-if table: the one asked for, 1.5, 2, 3 and 5 times the current one,
    and the peak minute's demand (the least limit at which the model throttles nothing)."""
    candidates = {math.ceil(current * factor) for factor in (1.5, 2, 3, 5)}
    if peak > current:
        candidates.add(peak)
    if asked:
        candidates.add(asked)
    return sorted(limit for limit in candidates if 1 <= limit <= most)


def limit_request_evidence(*, app: App, account, requested_limit: int, days: int = 14,
                           now: datetime | None = None) -> dict:
    """What a limit request stores when it is submitted: the report and the what-if at the limit asked for."""
    now = now or timezone.now()
    report = optimisation_report(app=app, account=account, days=days, now=now)
    scenario = what_if(app=app, account=account, days=days, limits=[requested_limit], now=now)
    return {"captured_at": now.isoformat().replace("+00:00", "Z"), "report": report.as_dict(),
            "what_if": scenario.as_dict()}


def snapshot_findings(evidence: dict | None) -> list[Finding]:
    """The findings of a stored snapshot (``RateLimitIncreaseRequest.evidence``) as Finding objects, for a page.
    Entries that are not findings are left out."""
    report = (evidence or {}).get("report") if isinstance(evidence, dict) else None
    findings = []
    for item in (report or {}).get("findings") or []:
        if isinstance(item, dict) and item.get("code"):
            findings.append(Finding(
                code=str(item["code"]), title=str(item.get("title", "")), advice=str(item.get("advice", "")),
                calls_saved_per_minute=item.get("calls_saved_per_minute") or 0,
                evidence=item.get("evidence") if isinstance(item.get("evidence"), dict) else {}))
    return findings
