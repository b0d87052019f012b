"""The optimisation report of a busy installation, for ``make bench`` (tools/bench.py).

One installation with 14 days of per-minute rows (20,160), 200 calls every minute spread over a few endpoint
classes, some single-ID reads and repeated searches: the report over 14 days (what the Limits tab and the
developer API build) and the what-if at three candidate limits (what the limit-request form shows), each
timed several times; the median is printed and returned. Needs Django set up (bench.py does it).
"""

import statistics
import time

RUNS = 7
MINUTES = 14 * 1440


def _busy_installation():
    from django.utils import timezone

    from accounts.models import Account, DeveloperProfile, User
    from portal.minutes import minute_of, minute_start
    from portal.models import App, Installation, UsageMinute

    developer = User.objects.create_user(email="report-bench@example.com", password="x")
    DeveloperProfile.objects.create(user=developer, dev_ref="report-bench", company="Bench", contact_name="Bench")
    app = App.objects.create(user=developer, client_id="report-bench", name="Report bench", short_description="b",
                             redirect_uris="https://b.example.com/cb", client_type=App.CLIENT_CONFIDENTIAL,
                             authorization_grant_type=App.GRANT_AUTHORIZATION_CODE)
    account = Account.objects.create(code="reportbench", name="Report Bench")
    installation = Installation.objects.create(app=app, account=account)
    now = minute_of(timezone.now())  # the report's own `now` below, so no row falls out of the period
    rows = []
    for ago in range(MINUTES):
        single = 20 + ago % 7
        rows.append(UsageMinute(
            installation=installation, minute=minute_start(now - ago), calls=200, throttled=0,
            status_4xx=ago % 3, status_5xx=0,
            endpoints={"GET product-service/product idset": 120, "GET product-service/product single": single,
                       "GET order-service/order-search search": 40, "GET order-service/order idset": 40 - single,
                       "POST order-service/order other": 0},
            repeated_searches={"GET order-service/order-search search": 5} if ago % 10 == 0 else {}))
    UsageMinute.objects.bulk_create(rows, batch_size=2000)
    return app, account, minute_start(now)


def _median_ms(function) -> tuple[float, float]:
    """Median wall time and median CPU time of this process (the database server's, on PostgreSQL, is not in
    it), in milliseconds: on a shared machine the wall time waits for other processes, the CPU time does not."""
    wall, cpu = [], []
    for _ in range(RUNS):
        started, started_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def measure() -> dict:
    from portal.optimisation import optimisation_report, what_if

    app, account, now = _busy_installation()
    report = optimisation_report(app=app, account=account, days=14, now=now)
    assert report.totals["requests"] == 200 * MINUTES, report.totals
    report_ms, report_cpu_ms = _median_ms(lambda: optimisation_report(app=app, account=account, days=14, now=now))
    what_if_ms, what_if_cpu_ms = _median_ms(
        lambda: what_if(app=app, account=account, days=14, limits=[150, 300, 600], now=now))
    print(f"  optimisation report, 14 days x 200 calls a minute ({MINUTES:,} rows): {report_ms:.1f} ms "
          f"({report_cpu_ms:.1f} ms CPU), median of {RUNS}; what-if at 3 limits: {what_if_ms:.1f} ms "
          f"({what_if_cpu_ms:.1f} ms CPU); target under 200 ms", flush=True)
    return {"report_ms_14d_busy": round(report_ms, 2), "report_cpu_ms_14d_busy": round(report_cpu_ms, 2),
            "what_if_ms_14d_busy": round(what_if_ms, 2), "what_if_cpu_ms_14d_busy": round(what_if_cpu_ms, 2),
            "report_rows": MINUTES}

