from accounts.roles import is_reviewer


def navigation(request):
    """What the navigation bar needs: the user's roles (developer, reviewer, member of accounts) and unread
    notification count; it shows each role what it can do."""
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated):
        return {}
    return {
        "nav_is_reviewer": is_reviewer(user),
        "nav_is_developer": hasattr(user, "developer_profile"),
        "nav_unread": user.notifications.filter(read_at__isnull=True).count(),
        "nav_has_accounts": user.memberships.exists(),
    }
