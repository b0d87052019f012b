"""How views show a service's refusal (ValidationError or PermissionDenied) to a person."""

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
