"""Input rules shared by forms and services, so a service refuses what a form would."""

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from portal import hooks
from portal.conf import portal_settings

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
ICON_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


URL_MAX_LENGTH = 200  # App.*_url columns
SHOWN_VALUE_LENGTH = 60


def shown(value: str) -> str:
    """A value quoted in an error message, cut short so that a long one never fills the page."""
    value = value.strip()
    return value if len(value) <= SHOWN_VALUE_LENGTH else value[:SHOWN_VALUE_LENGTH - 1] + "…"


def parse_redirect_uris(text: str) -> list[str]:
    """Split and check redirect URIs. Each must be an absolute https URL without a fragment; plain http is
    allowed only for localhost/loopback.

    Several lines: one URI per line, and an error names its line ("Line 2: …") rather than splitting a line
    with a space into words. One line: URIs separated by spaces (what API clients send)."""
    text = (text or "").strip()
    lines = [line.strip() for line in text.splitlines()]
    if len([line for line in lines if line]) > 1:
        numbered = [(number, line) for number, line in enumerate(lines, start=1) if line]
    else:
        numbered = [(None, part) for part in text.split()]
    if not numbered:
        raise ValidationError("Add at least one redirect URI.")
    if len(numbered) > 10:
        raise ValidationError(f"At most 10 redirect URIs; this has {len(numbered)}.")
    errors = []
    for number, uri in numbered:
        where = f"Line {number}: " if number else ""
        problem = _redirect_uri_problem(uri)
        if problem:
            errors.append(f"{where}{problem}")
    if errors:
        raise ValidationError(errors)
    return list(dict.fromkeys(uri for _, uri in numbered))


def _redirect_uri_problem(uri: str) -> str:
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in uri):
        return f"“{shown(uri)}” contains control characters."
    if any(char.isspace() for char in uri):
        return f"“{shown(uri)}” contains a space; put one URI on each line."
    if len(uri) > 2000:
        return f"“{shown(uri)}” is {len(uri):,} characters long; the limit is 2,000."
    try:
        URLValidator(schemes=["http", "https"])(uri)
    except ValidationError:
        return f"“{shown(uri)}” is not a valid URL."
    parts = urlsplit(uri)
    if parts.fragment:
        return f"“{shown(uri)}” must not contain a #fragment."
    if parts.scheme != "https" and (parts.hostname or "") not in LOOPBACK_HOSTS:
        return f"“{shown(uri)}” must use https (plain http is only allowed for localhost)."
    return ""


def http_allowed() -> bool:
    """Plain http for the URLs of an app (callbacks, homepage …): only where demo mode allows the portal to
    call private and plain-http addresses (``portal_settings.EGRESS_ALLOW_PRIVATE``)."""
    return portal_settings.EGRESS_ALLOW_PRIVATE


def validate_app_url(url: str) -> None:
    """One URL of an app (install and uninstall callbacks, homepage, support, privacy): https like the
    redirect URIs (http only where demo mode allows it), and at most 200 characters."""
    if not url:
        return
    if len(url) > URL_MAX_LENGTH:
        raise ValidationError(f"Keep the URL to {URL_MAX_LENGTH} characters; this one has {len(url):,}.")
    scheme = urlsplit(url).scheme.lower()
    if scheme != "https" and not (scheme == "http" and http_allowed()):
        raise ValidationError("Use an https URL.")


def number_in_range(field, low: int, high: int) -> None:
    """Make an integer form field refuse numbers outside low..high, saying the range in words (never the
    database's 9223372036854775807)."""
    from django.core.validators import MaxValueValidator, MinValueValidator

    message = f"Enter a whole number from {low:,} to {high:,}."
    field.min_value, field.max_value = low, high
    field.validators = [validator for validator in field.validators
                        if not isinstance(validator, (MinValueValidator, MaxValueValidator))]
    field.validators += [MinValueValidator(low, message=message), MaxValueValidator(high, message=message)]
    field.error_messages = {**field.error_messages, "invalid": message, "min_value": message, "max_value": message}
    field.widget.attrs.update({"min": low, "max": high})
    if not field.help_text:
        field.help_text = f"From {low:,} to {high:,}."


def validate_outgoing_url(url: str, *, purpose: str) -> None:
    """A URL the portal will call (a callback): one the egress guard accepts, i.e. https (unless the
    egress allowance is on) to a host that resolves to public internet addresses only. The egress guard lives
    above this layer (integrations) and answers through ``portal.hooks``."""
    refusal = hooks.ask(hooks.URL_REFUSAL, url=url, purpose=purpose)
    if refusal:
        raise ValidationError(refusal)


def validate_icon(upload) -> None:
    """An icon must be a real PNG, JPEG, GIF or WebP image within the size limits."""
    if not upload:
        return
    from PIL import Image, UnidentifiedImageError

    max_bytes = portal_settings.ICON_MAX_BYTES
    if upload.size > max_bytes:
        raise ValidationError(f"The icon is too large ({upload.size // 1024} KB); the limit is {max_bytes // 1024} KB.")
    try:
        upload.seek(0)
        image = Image.open(upload)
        image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValidationError("The icon must be a PNG, JPEG, GIF or WebP image.") from None
    finally:
        upload.seek(0)
    if image.format not in ICON_FORMATS:
        raise ValidationError("The icon must be a PNG, JPEG, GIF or WebP image.")
    max_pixels = portal_settings.ICON_MAX_PIXELS
    width, height = image.size
    if width > max_pixels or height > max_pixels:
        raise ValidationError(f"The icon must be at most {max_pixels}×{max_pixels} pixels.")
