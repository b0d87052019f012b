"""Audit events as sentences people read ("Alice ticked the security review"), never raw event codes or
Python values such as ``None``.

Each app registers the phrases of its own events (accounts here; the portal and the sync engine in their
``AppConfig.ready``), so this module never needs to know the vocabulary of the apps above it. A phrase is a
format string over the event's data (plus ``target`` and ``app``), or a callable ``(event) -> str``; what
follows the actor's name is the phrase. An event nobody registered still reads as a sentence.
"""

import datetime
import string
from collections.abc import Callable

from accounts.models import AuditEvent

Phrase = str | Callable[[AuditEvent], str]
_phrases: dict[str, Phrase] = {}
# Keys of event data that mean something to a reader, in the order shown, with their labels.
_detail_labels: dict[str, str] = {"note": "Note", "reason": "Reason"}


def register_phrases(phrases: dict[str, Phrase], *, details: dict[str, str] | None = None) -> None:
    _phrases.update(phrases)
    _detail_labels.update(details or {})


class _Blank(dict):
    """Format values: a missing key or ``None`` reads as nothing rather than ``None``."""

    def __missing__(self, key):
        return ""

    def __getitem__(self, key):
        value = super().get(key)
        return "" if value is None else readable(value)


def readable(value) -> str:
    """A data value as words: no ``None``, ``True``, brackets or ISO timestamps."""
    if value is None or value == "":
        return "—"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(readable(item) for item in value) if value else "none"
    if isinstance(value, dict):
        return "; ".join(f"{key.replace('_', ' ')} {readable(item)}" for key, item in value.items())
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            moment = datetime.datetime.fromisoformat(value)
        except ValueError:
            return value
        return moment.strftime("%-d %b %Y %H:%M")
    return str(value)


def actor_name(event: AuditEvent) -> str:
    if event.actor_id is None:
        return "The portal"
    return event.actor.display_name if event.actor else "A deleted user"


def _fallback(event: AuditEvent) -> str:
    subject, _, action = event.verb.partition(".")
    words = (action or subject).replace("_", " ")
    thing = subject.replace("_", " ")
    return f"recorded “{words}” on the {thing} {event.target_label}".rstrip()


def event_phrase(event: AuditEvent) -> str:
    phrase = _phrases.get(event.verb)
    if phrase is None:
        return _fallback(event)
    if callable(phrase):
        return phrase(event)
    values = _Blank(event.data or {})
    values.update(target=event.target_label, app=event.app_ref)
    return " ".join(string.Formatter().vformat(phrase, (), values).split())


def event_sentence(event: AuditEvent) -> str:
    """"Alice ticked the security review." """
    return f"{actor_name(event)} {event_phrase(event)}."


def event_details(event: AuditEvent) -> list[tuple[str, str]]:
    """The parts of the event's data worth reading beside the sentence: (label, words)."""
    data = event.data or {}
    return [(label, readable(data[key])) for key, label in _detail_labels.items()
            if key in data and data[key] not in (None, "", [], {})]


def _changed(event: AuditEvent) -> str:
    changed = (event.data or {}).get("changed") or {}
    if not changed:
        return f"saved {event.target_label} without changes"
    parts = []
    for name, pair in changed.items():
        before, after = (pair + [None, None])[:2] if isinstance(pair, list) else (None, pair)
        parts.append(f"{name.replace('_', ' ')} from {readable(before)} to {readable(after)}")
    return "changed " + "; ".join(parts)


def _show_beta(event: AuditEvent) -> str:
    shown = (event.data or {}).get("show")
    return f"chose to {'show' if shown else 'hide'} beta apps in the store of {event.target_label}"


def _account_usage_alerts(event: AuditEvent) -> str:
    muted = (event.data or {}).get("muted")
    return f"{'muted' if muted else 'turned back on'} usage alerts for the owners of {event.target_label}"


register_phrases({
    "developer.registered": "registered as a developer ({dev_ref})",
    "developer.updated": _changed,
    "partner.applied": "applied to become a partner for {company}",
    "partner.approved": "approved the partner application {target}",
    "partner.rejected": "rejected the partner application {target}",
    "account.created": "created the account {code}",
    "account.changed": _changed,
    "account.member_added": "added {email} to {account} as {role}",
    "account.member_changed": "made {email} {role} of {account}",
    "account.member_removed": "removed {email} from {account}",
    "account.show_beta_apps_changed": _show_beta,
    "account.usage_alerts_changed": _account_usage_alerts,
    "api_key.created": "created the API key “{name}” ({prefix}…)",
    "api_key.revoked": "revoked the API key “{name}” ({prefix}…)",
    "private_app.created": "added the private app {identifier} to {account}",
    "private_app.deleted": "deleted the private app {identifier} of {account}",
    "staff_token.created": "created the staff token {target} for {member} in {account}",
    "staff_token.revoked": "revoked the staff token {target} in {account}",
    "platform_settings.updated": _changed,
})
