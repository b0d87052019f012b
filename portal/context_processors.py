from accounts.roles import is_reviewer


def navigation(request):
    """What the navigation bar needs: the user's roles and unread notification count."""
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated):
        return {}
    return {
        "nav_is_reviewer": is_reviewer(user),
        "nav_is_developer": hasattr(user, "developer_profile"),
        "nav_unread": user.notifications.filter(read_at__isnull=True).count(),
    }
