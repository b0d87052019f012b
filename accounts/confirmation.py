"""Destructive actions ask first.

A view that revokes, removes, suspends or deletes is wrapped in ``confirm_first(describe)``. It then runs only
for a POST that carries ``confirm=yes``. A GET, or a POST without the field (a one-click form, a replayed
request, a browser without JavaScript), gets the confirmation page instead: what will happen, in words, with
the fields of the original form carried over as hidden inputs, a "Cancel" link back and the action button.

``describe(request, *args, **kwargs)`` looks the object up with the same scoping as the view (so a foreign
object is still a 404) and returns a ``Confirmation``, or ``None`` when there is nothing to confirm (for
example the "lift suspension" half of a form that also suspends) and the view should run as it is.
"""

from dataclasses import dataclass, field
from functools import wraps

from django.http import HttpResponseNotAllowed
from django.shortcuts import render

CONFIRM_FIELD = "confirm"
CONFIRM_VALUE = "yes"
CONFIRM_TEMPLATE = "partials/confirm_page.html"
# Never carried over: the CSRF token is rendered afresh, the confirmation is what the page adds.
NOT_CARRIED = {"csrfmiddlewaretoken", CONFIRM_FIELD}


@dataclass
class Confirmation:
    title: str  # the question: "Turn off Warehouse Link in Outer Heaven Ltd?"
    consequences: list[str]  # what happens, one sentence each; the first is the one that matters most
    action: str  # the button: "Turn off Warehouse Link"
    cancel_url: str
    crumbs: list[tuple[str, str]] = field(default_factory=list)  # (label, url) of the pages above
    choices: dict | None = None  # optional radio choices: {"name": ..., "legend": ..., "options": [(value, label)]}
    context: dict = field(default_factory=dict)  # extra template context (nav_section …)


def is_confirmed(request) -> bool:
    return request.method == "POST" and request.POST.get(CONFIRM_FIELD) == CONFIRM_VALUE


def confirmation_page(request, confirmation: Confirmation):
    carried = [(name, value) for name in request.POST for value in request.POST.getlist(name)
               if name not in NOT_CARRIED] if request.method == "POST" else []
    if confirmation.choices:
        chosen = request.POST.get(confirmation.choices["name"]) if request.method == "POST" else None
        carried = [(name, value) for name, value in carried if name != confirmation.choices["name"]]
        valid = {str(value) for value, _ in confirmation.choices["options"]}
        confirmation.choices = {**confirmation.choices,
                                "chosen": chosen if chosen in valid else str(confirmation.choices["options"][0][0])}
    return render(request, CONFIRM_TEMPLATE, {
        "confirmation": confirmation, "carried": carried, "confirm_field": CONFIRM_FIELD,
        "confirm_value": CONFIRM_VALUE, **confirmation.context,
    })


def confirm_first(describe):
    """Run the wrapped view only for a confirmed POST; otherwise show what ``describe`` says will happen."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if is_confirmed(request):
                return view(request, *args, **kwargs)
            if request.method not in ("GET", "HEAD", "POST"):
                return HttpResponseNotAllowed(["GET", "POST"])
            confirmation = describe(request, *args, **kwargs)
            if confirmation is None:
                return view(request, *args, **kwargs)
            return confirmation_page(request, confirmation)

        return wrapped

    return decorator


def plural(count: int, singular: str, many: str | None = None) -> str:
    """"1 token", "3 tokens", "no tokens"."""
    if count == 0:
        return f"no {many or singular + 's'}"
    return f"{count:,} {singular if count == 1 else (many or singular + 's')}"
