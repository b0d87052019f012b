"""Row locks (``select_for_update``) that more than one service module takes."""

from django.core.exceptions import PermissionDenied

from portal.models import App


def lock_own_app(app: App, actor) -> App:
    """Lock ``app`` for the rest of the transaction, refusing (PermissionDenied) unless ``actor`` is its developer."""
    locked = App.objects.select_for_update().filter(pk=app.pk, user=actor).first()
    if locked is None:
        raise PermissionDenied("This is not your app.")
    return locked
