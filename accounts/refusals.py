"""How views show a service's refusal (ValidationError or PermissionDenied) to a person."""

from contextlib import contextmanager

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError


def refusal_messages(error: ValidationError | PermissionDenied) -> list[str]:
    if isinstance(error, ValidationError):
        return error.messages
    return [str(error) or "You are not allowed to do that."]


def refusal_text(error: ValidationError | PermissionDenied) -> str:
    return " ".join(refusal_messages(error))


def apply_refusal(form, error: ValidationError) -> None:
    """Put a ValidationError onto a form: per field where the form has the field, else on top."""
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


class Refusal:
    """What :func:`reported_refusal` caught: true when the service refused (``error`` says why)."""

    error: ValidationError | PermissionDenied | None = None

    def __bool__(self) -> bool:
        return self.error is not None


def show_refusal(request, error: ValidationError | PermissionDenied, form=None, renames=None) -> None:
    """Show a service refusal: on the form's fields where it names them (``renames`` maps the service's
    names to the form's), else as a message."""
    if isinstance(error, ValidationError) and hasattr(error, "error_dict") and form is not None:
        renames = renames or {}
        apply_refusal(form, ValidationError({renames.get(k, k): v for k, v in error.error_dict.items()}))
    else:
        messages.error(request, refusal_text(error))


@contextmanager
def reported_refusal(request, form=None, *, renames=None):
    """Run a service call; a refusal (ValidationError, PermissionDenied) is shown to the person instead of
    raised. ``with reported_refusal(request, form) as refusal: service(...)``, then ``if not refusal:``."""
    refusal = Refusal()
    try:
        yield refusal
    except (ValidationError, PermissionDenied) as error:
        refusal.error = error
        show_refusal(request, error, form, renames)
