"""The portal's own 404 and 403 pages also while DEBUG is on in demo mode.

With DEBUG on, Django answers a missing page or a refusal with its technical page; a demo should look like
the portal people will use. Outside demo mode DEBUG's pages stay (they are what a developer debugging wants),
and with DEBUG off Django's handlers already render templates/404.html, 403.html and 500.html.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.urls import Resolver404, resolve


def _styled(request, status: int, exception=None):
    template = "403.html" if status == 403 else "404.html"
    return render(request, template, {"request_path": request.path, "exception": exception}, status=status)


class StyledErrorPagesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    @staticmethod
    def active() -> bool:
        return settings.DEBUG and getattr(settings, "DEMO_MODE", False)

    def __call__(self, request):
        response = self.get_response(request)
        if (self.active() and response.status_code == 404
                and response.get("Content-Type", "").startswith("text/html") and not self._resolves(request)):
            return _styled(request, 404)
        return response

    def process_exception(self, request, exception):
        if not self.active():
            return None
        if isinstance(exception, Http404):
            return _styled(request, 404)
        if isinstance(exception, PermissionDenied):
            message = str(exception) if exception.args else None
            return _styled(request, 403, message)
        return None

    @staticmethod
    def _resolves(request) -> bool:
        try:
            resolve(request.path_info)
        except Resolver404:
            return False
        return True
