"""The app lifecycle: one test per allowed edge of the transition table and one per forbidden edge.

States are the four stages plus "suspended"; a suspended app keeps its stage, and the only way out of
"suspended" is back to that kept stage.
"""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import AuditEvent, Notification
from portal import lifecycle, services
from portal.lifecycle import SUSPENDED, TransitionNotAllowed
from portal.models import App, Stage
from tests.factories import AppFactory, UserFactory, make_reviewer

STAGES = [Stage.IN_DEVELOPMENT, Stage.ALPHA, Stage.BETA, Stage.RELEASED]
PROMOTIONS = [(Stage.IN_DEVELOPMENT, Stage.ALPHA), (Stage.ALPHA, Stage.BETA), (Stage.BETA, Stage.RELEASED)]

# Every edge as (kept stage, from state, to state). For a non-suspended app the kept stage is its stage.
ALLOWED_EDGES = [
    *[(from_stage, from_stage, to_stage) for from_stage, to_stage in PROMOTIONS],
    *[(stage, stage, SUSPENDED) for stage in STAGES],
    *[(stage, SUSPENDED, stage) for stage in STAGES],
]
FORBIDDEN_EDGES = [
    *[(stage, stage, to_state) for stage in STAGES for to_state in lifecycle.STATES
      if (stage, stage, to_state) not in ALLOWED_EDGES],
    *[(kept, SUSPENDED, to_state) for kept in STAGES for to_state in lifecycle.STATES if to_state != kept],
]


def _edge_id(edge) -> str:
    kept, from_state, to_state = edge
    source = f"suspended({kept})" if from_state == SUSPENDED else from_state
    return f"{source}->{to_state}"


def _app_in(*, kept: str, state: str) -> App:
    if state == SUSPENDED:
        return AppFactory(stage=kept, suspended_at=timezone.now(), suspended_reason="Broke the API limits.")
    return AppFactory(stage=kept)


def _snapshot(app: App) -> tuple:
    app = App.objects.get(pk=app.pk)
    return app.stage, app.suspended_at, app.suspended_reason, app.updated


def test_the_table_has_exactly_the_expected_edges():
    # given
    expected = {(from_state, to_state) for _, from_state, to_state in ALLOWED_EDGES}

    # when
    table = set(lifecycle.TRANSITIONS)

    # then
    assert table == expected
    assert len(ALLOWED_EDGES) == 11
    assert len(FORBIDDEN_EDGES) == 29


@pytest.mark.django_db
@pytest.mark.parametrize("edge", ALLOWED_EDGES, ids=_edge_id)
def test_allowed_edge_moves_the_app_audits_and_notifies(edge, django_capture_on_commit_callbacks, mailoutbox):
    # given
    kept, from_state, to_state = edge
    app = _app_in(kept=kept, state=from_state)
    reviewer = make_reviewer()
    note = "Repeated 5xx storms against the API." if to_state == SUSPENDED else ""

    # when
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.apply_transition(app=app, to_state=to_state, actor=reviewer, note=note)

    # then
    app.refresh_from_db()
    assert app.lifecycle_state == to_state
    if to_state == SUSPENDED:
        assert app.stage == kept
        assert app.suspended_at is not None
        assert app.suspended_reason == note
        verb, data = "app.suspended", {"from": from_state, "to": SUSPENDED, "note": note}
    elif from_state == SUSPENDED:
        assert app.stage == kept
        assert app.suspended_at is None
        assert app.suspended_reason == ""
        verb, data = "app.unsuspended", {"from": SUSPENDED, "to": kept}
    else:
        assert app.stage == to_state
        assert app.suspended_at is None
        verb, data = "app.promoted", {"from": from_state, "to": to_state}
    event = AuditEvent.objects.get()
    assert event.verb == verb
    assert event.actor == reviewer
    assert event.data == data
    assert event.app_ref == app.client_id
    assert (event.target_type, event.target_id) == ("portal.app", str(app.pk))
    notification = Notification.objects.get()
    assert notification.user == app.user
    assert app.name in notification.subject
    assert [message.to for message in mailoutbox] == [[app.user.email]]


@pytest.mark.django_db
@pytest.mark.parametrize("edge", FORBIDDEN_EDGES, ids=_edge_id)
def test_forbidden_edge_is_refused_and_nothing_changes(edge):
    # given
    kept, from_state, to_state = edge
    app = _app_in(kept=kept, state=from_state)
    reviewer = make_reviewer()
    before = _snapshot(app)

    # when
    with pytest.raises(TransitionNotAllowed):
        lifecycle.apply_transition(app=app, to_state=to_state, actor=reviewer, note="Because.")

    # then
    assert _snapshot(app) == before
    assert not AuditEvent.objects.exists()
    assert not Notification.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("edge", ALLOWED_EDGES, ids=_edge_id)
@pytest.mark.parametrize("who", ["developer", "staff-not-reviewer", "reviewers-group-not-staff",
                                 "inactive-reviewer", "nobody"])
def test_non_reviewer_cannot_take_an_allowed_edge(edge, who):
    # given
    kept, from_state, to_state = edge
    app = _app_in(kept=kept, state=from_state)
    actor = {
        "developer": lambda: app.user,
        "staff-not-reviewer": lambda: UserFactory(is_staff=True),
        "reviewers-group-not-staff": lambda: _in_reviewers_group(UserFactory(is_staff=False)),
        "inactive-reviewer": lambda: make_reviewer(is_active=False),
        "nobody": lambda: None,
    }[who]()
    before = _snapshot(app)

    # when
    with pytest.raises(PermissionDenied):
        lifecycle.apply_transition(app=app, to_state=to_state, actor=actor, note="Because.")

    # then
    assert _snapshot(app) == before
    assert not AuditEvent.objects.exists()
    assert not Notification.objects.exists()


def _in_reviewers_group(user):
    from django.contrib.auth.models import Group

    user.groups.add(Group.objects.get_or_create(name="reviewers")[0])
    return user


@pytest.mark.django_db
@pytest.mark.parametrize("reason", ["", "   \n "])
@pytest.mark.parametrize("stage", STAGES)
def test_suspending_without_a_reason_is_refused(stage, reason):
    # given
    app = AppFactory(stage=stage)
    reviewer = make_reviewer()
    before = _snapshot(app)

    # when
    with pytest.raises(ValidationError) as exc:
        services.app_suspend(app=app, actor=reviewer, reason=reason)

    # then
    assert not isinstance(exc.value, TransitionNotAllowed)
    assert "reason" in str(exc.value)
    assert _snapshot(app) == before
    assert not AuditEvent.objects.exists()
    assert not Notification.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("stage", STAGES)
def test_unsuspend_restores_the_kept_stage(stage):
    # given
    app = AppFactory(stage=stage)
    reviewer = make_reviewer()
    services.app_suspend(app=app, actor=reviewer, reason="Leaked a token in a log.")
    assert App.objects.get(pk=app.pk).lifecycle_state == SUSPENDED

    # when
    services.app_unsuspend(app=app, actor=reviewer)

    # then
    app.refresh_from_db()
    assert app.lifecycle_state == stage
    assert app.stage == stage
    assert app.suspended_at is None
    assert app.suspended_reason == ""
    assert list(AuditEvent.objects.order_by("id").values_list("verb", "data")) == [
        ("app.suspended", {"from": stage, "to": SUSPENDED, "note": "Leaked a token in a log."}),
        ("app.unsuspended", {"from": SUSPENDED, "to": stage}),
    ]
    assert Notification.objects.filter(user=app.user).count() == 2



@pytest.mark.django_db
@pytest.mark.parametrize("to_state", ["archived", "", "Alpha"])
def test_an_unknown_state_is_refused(to_state):
    # given
    app = AppFactory(stage=Stage.IN_DEVELOPMENT)
    before = _snapshot(app)

    # when
    with pytest.raises(TransitionNotAllowed):
        lifecycle.apply_transition(app=app, to_state=to_state, actor=make_reviewer())

    # then
    assert _snapshot(app) == before
    assert not AuditEvent.objects.exists()
