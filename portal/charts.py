"""Inline SVG charts, drawn on the server (no JavaScript): an installation's API calls per minute over
the last 24 hours against its rate limit.

Each bar is a bucket of a few minutes and shows its busiest minute, so bars compare directly with the
per-minute limit (a dashed line); calls the gateway refused (throttled) are stacked on top in a
contrasting colour. Hovering a bar shows its figures (an SVG ``<title>``). The chart is an image with a
text summary for screen readers; the same sentence is printed under it for everyone.
"""

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

if TYPE_CHECKING:
    from portal.usage import UsageSeries

WIDTH = 660  # the default: a chart in the wide column of a two-column page; 1000 fits a full-width card
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 46, 14, 14, 24
COLOURS = {
    "calls": "#4a6cf0", "throttled": "#e8590c", "limit": "#1d2330", "requested": "#1f8a4c", "grid": "#e6e9ef",
    "axis": "#b9bfcc", "text": "#5d6678",
}
LABEL_EVERY_HOURS = 3


@dataclass(frozen=True)
class Chart:
    svg: SafeString
    summary: str  # names the installation: the image's description
    caption: str  # the same without the name, printed under the chart
    has_calls: bool
    over_limit: bool  # some calls were throttled in the window


def _nice_step(top: float, intervals: int = 4) -> int:
    raw = max(top / intervals, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        step = multiple * magnitude
        if step >= raw and float(step).is_integer():
            return int(step)
    return int(10 * magnitude)


def _hhmm(moment) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


def _tz_name() -> str:
    return timezone.localtime(timezone.now()).strftime("%Z") or "UTC"


def _limit_at(steps, moment, fallback: int) -> tuple[int, bool | None]:
    """(calls per minute, raised) in force at ``moment`` according to ``steps``; raised is None without steps."""
    current = (fallback, None)
    for start, per_minute, raised in steps or ():
        if start <= moment:
            current = (per_minute, raised)
    return current


def _limit_words(per_minute: int, raised: bool | None, *, then: bool) -> str:
    kind = {True: "raised limit", False: "default limit", None: "limit"}[raised]
    return f"the {kind} of {per_minute:,} per minute{' in force then' if then else ''}"


def usage_summary(series: "UsageSeries", *, limit_per_minute: int, label: str = "", limit_steps=None,
                  limit_is_default: bool | None = None) -> str:
    """One or two sentences saying what the chart shows (``label`` names the installation), and which limit
    each figure is against: the one in force at the busiest minute, and the one in force now."""
    prefix = f"{label}: " if label else ""
    hours = round((series.end - series.start).total_seconds() / 3600)
    now_raised = None if limit_is_default is None else not limit_is_default
    if not series.has_calls:
        return (f"{prefix}No API calls in the last {hours} hours. Limit now: "
                f"{_limit_words(limit_per_minute, now_raised, then=False).removeprefix('the ')}."
                + _failed_sentence(series))
    text = f"{prefix}{series.calls:,} calls in the last {hours} hours."
    if series.peak_at is not None:
        peak_limit, peak_raised = _limit_at(limit_steps, series.peak_at, limit_per_minute)
        if peak_raised is None:
            peak_raised = now_raised
        share = round(100 * series.peak_calls / peak_limit) if peak_limit else 0
        changed = bool(limit_steps) and len(limit_steps) > 1
        text += (f" Busiest minute: {series.peak_calls:,} calls at {_hhmm(series.peak_at)} {_tz_name()},"
                 f" {share}% of {_limit_words(peak_limit, peak_raised, then=changed)}.")
        if changed and (peak_limit, peak_raised) != (limit_per_minute, now_raised):
            text += f" Limit now: {_limit_words(limit_per_minute, now_raised, then=False).removeprefix('the ')}."
    if series.throttled:
        minutes = "minute" if series.minutes_throttled == 1 else "minutes"
        text += f" {series.throttled:,} calls throttled, in {series.minutes_throttled} {minutes}."
    else:
        text += " None throttled."
    return text + _failed_sentence(series)


def _failed_sentence(series: "UsageSeries") -> str:
    """Requests that named the installation without valid credentials: not its calls (they never
    touch its limit), so told apart."""
    if not series.failed:
        return ""
    requests = "request" if series.failed == 1 else "requests"
    return (f" Apart from these, {series.failed:,} {requests} with invalid credentials named this app;"
            " they do not count against its limit.")


def usage_chart(series: "UsageSeries", *, limit_per_minute: int, label: str, chart_id: str, height: int = 170,
                width: int = WIDTH, requested_per_minute: int | None = None, limit_steps=None,
                limit_is_default: bool | None = None) -> Chart:
    """The SVG of one installation's usage (``series`` from ``portal.usage.usage_series_of``), ``width``
    user units wide: pick about the width it is shown at, so that its text keeps the page's size.

    ``requested_per_minute`` draws a second line for a limit under review, when it fits the scale
    (at most four times the limit or the tallest bar; a far higher one would flatten the bars).
    ``limit_steps`` (``portal.limits.limit_steps``) draws the limit that applied at each moment as a step line
    when a grant began or ended in the window."""
    summary = usage_summary(series, limit_per_minute=limit_per_minute, label=label, limit_steps=limit_steps,
                            limit_is_default=limit_is_default)
    steps = [(start, per_minute) for start, per_minute, _ in (limit_steps or ())]
    if len(steps) < 2:
        steps = []
    plot_w = width - PAD_LEFT - PAD_RIGHT
    plot_h = height - PAD_TOP - PAD_BOTTOM
    baseline = PAD_TOP + plot_h
    tallest = max((b.peak_calls + b.peak_throttled for b in series.buckets), default=0)
    highest = max(limit_per_minute, tallest, *(per_minute for _, per_minute in steps))
    if requested_per_minute and requested_per_minute <= 4 * highest:
        highest = max(highest, requested_per_minute)
    else:
        requested_per_minute = None
    step = _nice_step(highest * 1.1)
    top_value = step * math.ceil(highest * 1.1 / step)

    def y(value: float) -> float:
        return round(baseline - min(value, top_value) / top_value * plot_h, 1)

    cid = escape(chart_id)
    parts = [
        # Never drawn much smaller than designed (its text would shrink with it): scroll sideways instead.
        f'<svg class="usage-chart" viewBox="0 0 {width} {height}" style="min-width:{round(width * 0.7)}px" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{cid}-title">{escape(label)}: API calls per minute, last 24 hours</title>',
        f'<desc id="{cid}-desc">{escape(summary)}</desc>',
    ]
    # Horizontal grid with the scale on the left.
    for value in range(0, top_value + 1, step):
        gy = y(value)
        colour = COLOURS["axis"] if value == 0 else COLOURS["grid"]
        parts.append(f'<line x1="{PAD_LEFT}" x2="{width - PAD_RIGHT}" y1="{gy}" y2="{gy}" stroke="{colour}" '
                     'stroke-width="1"/>')
        parts.append(f'<text x="{PAD_LEFT - 6}" y="{gy + 4}" text-anchor="end" font-size="11" '
                     f'fill="{COLOURS["text"]}">{value:,}</text>')
    # The limits: labels first, so the bars (throttled ones above the limit above all) are drawn over them; the
    # lines again after the bars ("overlay"), so bars never hide a line. The labels sit above their line, or
    # below it when there is no room (or when the two lines are close).
    span = (series.end - series.start).total_seconds() or 1

    def x_at(moment) -> float:
        return round(PAD_LEFT + max(0.0, min(1.0, (moment - series.start).total_seconds() / span)) * plot_w, 1)

    limit_path = ""
    if steps:
        points = []
        for index, (start, per_minute) in enumerate(steps):
            sx = PAD_LEFT if index == 0 else x_at(start)
            if points:
                points.append(f"{sx},{points[-1].split(',')[1]}")
            points.append(f"{sx},{y(per_minute)}")
        points.append(f"{width - PAD_RIGHT},{y(steps[-1][1])}")
        limit_path = " ".join(points)
    lines = [(limit_per_minute, COLOURS["limit"], "6 4", f"limit {limit_per_minute:,}/min", limit_path)]
    if requested_per_minute and requested_per_minute != limit_per_minute:
        lines.append((requested_per_minute, COLOURS["requested"], "2 3", f"asked {requested_per_minute:,}/min", ""))
    taken: list[float] = []
    overlay: list[str] = []
    for value, colour, dashes, text, path in lines:
        ly = y(value)
        if path:
            overlay.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5" '
                           f'stroke-dasharray="{dashes}"/>')
        else:
            overlay.append(f'<line x1="{PAD_LEFT}" x2="{width - PAD_RIGHT}" y1="{ly}" y2="{ly}" stroke="{colour}" '
                           f'stroke-width="1.5" stroke-dasharray="{dashes}"/>')
        label_y = ly - 5 if ly - 5 > PAD_TOP + 6 else ly + 14
        if any(abs(label_y - other) < 13 for other in taken):
            label_y = ly + 14 if label_y < ly else ly - 5
        taken.append(label_y)
        parts.append(f'<text x="{width - PAD_RIGHT - 2}" y="{label_y}" text-anchor="end" font-size="11.5" '
                     f'font-weight="600" fill="{colour}" stroke="#fff" stroke-width="3" paint-order="stroke">'
                     f'{escape(text)}</text>')
    if steps:
        # Where the limit changed, say from when (a grant began or ended).
        for start, per_minute in steps[1:]:
            sx = x_at(start)
            parts.append(f'<text x="{sx + 3}" y="{PAD_TOP + 9}" font-size="10.5" fill="{COLOURS["limit"]}" '
                         f'stroke="#fff" stroke-width="3" paint-order="stroke">{per_minute:,}/min from '
                         f'{_hhmm(start)}</text>')
    # Bars: busiest admitted minute, throttled stacked above it.
    count = len(series.buckets) or 1
    slot = plot_w / count
    bar = max(1.0, round(slot * 0.72, 2))
    for index, bucket in enumerate(series.buckets):
        if not (bucket.peak_calls or bucket.peak_throttled):
            continue
        x = round(PAD_LEFT + index * slot + (slot - bar) / 2, 2)
        end = bucket.start + (series.end - series.start) / count
        tip = (f"{_hhmm(bucket.start)}–{_hhmm(end)}: busiest minute {bucket.peak_calls:,} calls"
               f"{f', {bucket.peak_throttled:,} throttled' if bucket.peak_throttled else ''}"
               f" ({bucket.calls:,} calls in total)")
        parts.append(f"<g><title>{escape(tip)}</title>")
        if bucket.peak_calls:
            top = y(bucket.peak_calls)
            parts.append(f'<rect x="{x}" y="{top}" width="{bar}" height="{round(baseline - top, 1)}" '
                         f'fill="{COLOURS["calls"]}" rx="1"/>')
        if bucket.peak_throttled:
            low, high = y(bucket.peak_calls), y(bucket.peak_calls + bucket.peak_throttled)
            parts.append(f'<rect x="{x}" y="{high}" width="{bar}" height="{max(1.5, round(low - high, 1))}" '
                         f'fill="{COLOURS["throttled"]}" rx="1"/>')
        parts.append("</g>")
    # Time axis: a label every few hours on the hour, and "now" at the right edge.
    for index, bucket in enumerate(series.buckets):
        local = timezone.localtime(bucket.start)
        if local.minute == 0 and local.hour % LABEL_EVERY_HOURS == 0:
            lx = round(PAD_LEFT + index * slot, 1)
            if lx > width - PAD_RIGHT - 64:  # leave room for "now"
                continue
            parts.append(f'<line x1="{lx}" x2="{lx}" y1="{baseline}" y2="{baseline + 4}" stroke="{COLOURS["axis"]}"/>')
            parts.append(f'<text x="{lx}" y="{height - 6}" text-anchor="middle" font-size="11" '
                         f'fill="{COLOURS["text"]}">{local:%H:%M}</text>')
    parts.append(f'<text x="{width - PAD_RIGHT}" y="{height - 6}" text-anchor="end" font-size="11" '
                 f'fill="{COLOURS["text"]}">now</text>')
    parts.extend(overlay)
    parts.append("</svg>")
    return Chart(svg=mark_safe("".join(parts)), summary=summary,
                 caption=usage_summary(series, limit_per_minute=limit_per_minute, limit_steps=limit_steps,
                                       limit_is_default=limit_is_default), has_calls=series.has_calls,
                 over_limit=bool(series.throttled))
