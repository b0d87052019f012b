"""Words for the page: audit events as sentences, and every relative time in one style."""

from django import template
from django.utils import timezone
from django.utils.html import format_html

from accounts import audit_text

register = template.Library()

UNITS = (("year", 365 * 86400), ("month", 30 * 86400), ("week", 7 * 86400), ("day", 86400), ("hour", 3600),
         ("minute", 60))


def relative(moment, now=None) -> str:
    """"just now", "5 minutes ago", "in 2 hours", "3 days ago": one unit, whole numbers."""
    now = now or timezone.now()
    seconds = (now - moment).total_seconds()
    future, seconds = seconds < 0, abs(seconds)
    if seconds < 60:
        return "just now"
    for name, size in UNITS:
        if seconds >= size:
            count = int(seconds // size)
            words = f"{count} {name}{'s' if count != 1 else ''}"
            return f"in {words}" if future else f"{words} ago"
    return "just now"  # pragma: no cover


@register.filter
def ago(moment):
    """A <time> element: the relative time, with the exact time in its title and datetime."""
    if not moment:
        return ""
    local = timezone.localtime(moment) if timezone.is_aware(moment) else moment
    return format_html('<time datetime="{}" title="{}">{}</time>', local.isoformat(),
                       local.strftime("%-d %b %Y %H:%M %Z").strip(), relative(moment))


@register.filter
def sentence(event):
    return audit_text.event_sentence(event)


@register.filter
def event_details(event):
    return audit_text.event_details(event)
