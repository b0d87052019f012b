"""The portal's audit events as sentences (registered with accounts.audit_text in PortalConfig.ready)."""

from accounts.audit_text import register_phrases
from portal.models import ReviewStage, Stage

STATE_LABELS = {**dict(Stage.choices), "suspended": "suspended"}


def _state(value) -> str:
    return STATE_LABELS.get(value, str(value or "")).lower()


def _promoted(event) -> str:
    data = event.data or {}
    return f"moved {event.target_label} from {_state(data.get('from'))} to {_state(data.get('to'))}"


def _progression(verb: str):
    def phrase(event) -> str:
        return f"{verb} the move of {event.app_ref} to {_state((event.data or {}).get('to'))}"
    return phrase


def _review_check(ticked: bool):
    def phrase(event) -> str:
        key = (event.data or {}).get("stage", "")
        label = ReviewStage.objects.filter(key=key).values_list("label", flat=True).first() or key.replace("_", " ")
        label = label if label.lower().endswith("review") else f"{label} review"
        return f"{'ticked' if ticked else 'unticked'} the {label.lower()} of {event.app_ref}"
    return phrase


def _app_usage_alerts(event) -> str:
    muted = (event.data or {}).get("muted")
    return f"{'muted' if muted else 'turned back on'} usage alerts for {event.target_label}"


def _usage_alert(event) -> str:
    data = event.data or {}
    level = "hit its limit" if data.get("level") == 100 else "reach 80% of its limit"
    owners = data.get("owners_told") or 0
    told = [*(["its developer"] if data.get("developer_told") else []),
            *([f"{owners} owner{'s' if owners != 1 else ''} of the account"] if owners else [])]
    return (f"saw {event.app_ref} {level} in {data.get('account', '')} ({data.get('calls')} of {data.get('limit')} "
            f"calls a minute) and told {' and '.join(told) if told else 'nobody (alerts are muted)'}")


def register() -> None:
    register_phrases({
        "app.registered": "registered the app {target}",
        "app.updated": "edited the details of {target}",
        "app.deleted": "deleted the app {name}",
        "app.secret_rotated": "rotated the client secret of {target}",
        "app.tokens_revoked": "revoked every token of {target}",
        "app.promoted": _promoted,
        "app.suspended": "suspended {target}",
        "app.unsuspended": _promoted,
        "early_access.added": "gave {account} early access to {app}",
        "early_access.removed": "removed the early access of {account} to {app}",
        "installation.turned_on": "turned {app} on in {account}",
        "installation.turned_off": "turned {app} off in {account}",
        "progression.requested": _progression("asked for"),
        "progression.withdrawn": "withdrew the progression request of {app}",
        "progression.approved": _progression("approved"),
        "progression.rejected": _progression("rejected"),
        "progression.check_ticked": _review_check(True),
        "progression.check_unticked": _review_check(False),
        "limit_request.submitted": "asked for {requested_limit} calls a minute for {app} ({scope})",
        "limit_request.approved": "raised the limit of {app} to {granted_limit} calls a minute ({scope})",
        "limit_request.rejected": "turned down a higher limit for {app} ({scope})",
        "limit_request.withdrawn": "withdrew the limit request of {app} ({scope})",
        "limit_grant.ended": "ended the raised limit of {app} ({scope})",
        "app.usage_alerts_changed": _app_usage_alerts,
        "usage_alert.sent": _usage_alert,
    }, details={"requested_until": "Wanted until", "granted_until": "Until"})
