"""OAuth policy hooks named in settings.OAUTH2_PROVIDER."""


def pkce_required(client_id: str) -> bool:
    """PKCE is required for public clients (they cannot keep a secret) and optional otherwise."""
    from portal.models import App

    client_type = App.objects.filter(client_id=client_id).values_list("client_type", flat=True).first()
    return client_type == App.CLIENT_PUBLIC
