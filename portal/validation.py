"""Input rules shared by forms and services, so a service refuses what a form would."""

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.module_loading import import_string

from portal.conf import portal_settings

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
ICON_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
# The egress guard lives in integrations (above this layer), so it is named rather than imported.
EGRESS_REFUSAL = "integrations.egress.url_refusal"


def parse_redirect_uris(text: str) -> list[str]:
    """Split and check redirect URIs (one per line or space separated). Each must be an absolute
    https URL without a fragment; plain http is allowed only for localhost/loopback."""
    uris = [part.strip() for part in (text or "").split() if part.strip()]
    if not uris:
        raise ValidationError("Add at least one redirect URI.")
    if len(uris) > 10:
        raise ValidationError("At most 10 redirect URIs.")
    errors = []
    for uri in uris:
        if any(ord(char) < 0x20 or ord(char) == 0x7F for char in uri):
            errors.append(f"{uri!r} contains control characters.")
            continue
        try:
            URLValidator(schemes=["http", "https"])(uri)
        except ValidationError:
            errors.append(f"{uri} is not a valid URL.")
            continue
        parts = urlsplit(uri)
        if parts.fragment:
            errors.append(f"{uri} must not contain a #fragment.")
        elif parts.scheme != "https" and (parts.hostname or "") not in LOOPBACK_HOSTS:
            errors.append(f"{uri} must use https (plain http is only allowed for localhost).")
    if errors:
        raise ValidationError(errors)
    return list(dict.fromkeys(uris))


def validate_outgoing_url(url: str, *, purpose: str) -> None:
    """A URL the portal will call (a callback): one the egress guard accepts, i.e. https (unless the
    egress allowance is on) to a host that resolves to public internet addresses only."""
    refusal = import_string(EGRESS_REFUSAL)(url, purpose=purpose)
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
