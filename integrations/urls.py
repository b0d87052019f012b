from django.urls import path

from integrations import oauth_views

app_name = "integrations"
urlpatterns = [
    path("oauth/authorize", oauth_views.authorize_choose, name="authorize_choose"),
    path("oauth/authorize/<slug:account_code>", oauth_views.authorize, name="authorize"),
    path("oauth/token", oauth_views.token, name="token"),
    path("oauth/token/<slug:account_code>", oauth_views.token, name="account_token"),
    path("<slug:account_code>/oauth/token", oauth_views.token, name="account_token_alt"),
    path("oauth/revoke", oauth_views.revoke, name="revoke"),
    path("oauth/introspect", oauth_views.introspect, name="introspect"),
    path(".well-known/oauth-authorization-server", oauth_views.metadata, name="metadata"),
]
