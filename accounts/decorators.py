"""View-edge checks. Services check permissions again; these only give the right page or redirect."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from accounts.conf import accounts_settings
from accounts.roles import is_reviewer


def has_mfa(user) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def reviewer_required(view):
    """Reviewers only; when the platform requires it, a reviewer must have two-factor enabled."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_reviewer(request.user):
            raise PermissionDenied("Reviewers only.")
        if accounts_settings.REQUIRE_MFA_FOR_REVIEWERS and not has_mfa(request.user):
            messages.warning(request, "Reviewers must turn on two-factor authentication before reviewing.")
            return redirect("mfa_activate_totp")
        return view(request, *args, **kwargs)

    return wrapper


def developer_required(view):
    """Signed-in users with a developer profile; others are sent to create one."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not hasattr(request.user, "developer_profile"):
            messages.info(request, "Register as a developer to create apps.")
            return redirect("accounts:developer_profile")
        return view(request, *args, **kwargs)

    return wrapper
