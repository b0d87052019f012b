"""App lifecycle: the one transition table and the one function that applies a transition.

States are the four stages plus "suspended". A suspended app keeps its stage in ``App.stage`` so that
unsuspending restores it; ``App.lifecycle_state`` reads the current state.
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.notifications import notify
from accounts.roles import is_reviewer
from portal.models import App, Stage

SUSPENDED = "suspended"
STATES = [*Stage.values, SUSPENDED]


class TransitionNotAllowed(ValidationError):
    pass


@dataclass(frozen=True)
class Transition:
    verb: str
    allowed: callable  # (actor) -> bool
    who: str  # said in the refusal


TRANSITIONS: dict[tuple[str, str], Transition] = {
    (Stage.IN_DEVELOPMENT, Stage.ALPHA): Transition("app.promoted", is_reviewer, "a reviewer"),
    (Stage.ALPHA, Stage.BETA): Transition("app.promoted", is_reviewer, "a reviewer"),
    (Stage.BETA, Stage.RELEASED): Transition("app.promoted", is_reviewer, "a reviewer"),
    **{(stage, SUSPENDED): Transition("app.suspended", is_reviewer, "a reviewer") for stage in Stage.values},
    # Unsuspending restores the kept stage: the edge is from "suspended" to that stage.
    **{(SUSPENDED, stage): Transition("app.unsuspended", is_reviewer, "a reviewer") for stage in Stage.values},
}

NEXT_STAGE = {Stage.IN_DEVELOPMENT: Stage.ALPHA, Stage.ALPHA: Stage.BETA, Stage.BETA: Stage.RELEASED}


def next_stage(stage: str) -> str | None:
    return NEXT_STAGE.get(stage)


def apply_transition(*, app: App, to_state: str, actor, note: str = "", data: dict | None = None) -> App:
    """Move ``app`` to ``to_state``.

    Locks the app row, refuses an edge that is not in the table (TransitionNotAllowed) or an actor
    who may not take it (PermissionDenied), writes the audit event and notifies the developer after
    commit. Suspending needs a note (the reason); unsuspending may only restore the kept stage.
    """
    with transaction.atomic():
        app = App.objects.select_for_update().get(pk=app.pk)
        from_state = app.lifecycle_state
        transition = TRANSITIONS.get((from_state, to_state))
        if transition is None:
            raise TransitionNotAllowed(f"An app cannot go from {from_state} to {to_state}.")
        if from_state == SUSPENDED and to_state != app.stage:
            raise TransitionNotAllowed(f"Unsuspending restores the app's stage ({app.stage}), not {to_state}.")
        if not transition.allowed(actor):
            raise PermissionDenied(f"Only {transition.who} can move an app from {from_state} to {to_state}.")
        now = timezone.now()
        if to_state == SUSPENDED:
            if not note.strip():
                raise ValidationError("Give a reason for suspending the app.")
            app.suspended_at, app.suspended_reason = now, note.strip()
        elif from_state == SUSPENDED:
            app.suspended_at, app.suspended_reason = None, ""
        else:
            app.stage = to_state
        app.save(update_fields=["stage", "suspended_at", "suspended_reason", "updated"])
        audit_record(
            actor=actor,
            verb=transition.verb,
            target=app,
            app_ref=app.client_id,
            data={
                "from": from_state,
                "to": to_state,
                **({"note": note.strip()} if note.strip() else {}),
                **(data or {}),
            },
        )
        notify(
            user=app.user,
            subject=_notification_subject(app, from_state, to_state),
            body=note.strip(),
            link=f"/apps/{app.pk}/",
        )
    return app


def _notification_subject(app: App, from_state: str, to_state: str) -> str:
    if to_state == SUSPENDED:
        return f"{app.name} was suspended"
    if from_state == SUSPENDED:
        return f"{app.name} is no longer suspended"
    return f"{app.name} moved to {Stage(to_state).label.lower()}"
