from django.urls import path

from accounts import token_views, views

app_name = "accounts"
urlpatterns = [
    path("developer/", views.developer_profile, name="developer_profile"),
    path("developer/partner/", views.partner_apply, name="partner_apply"),
    path("developer/api-keys/", token_views.api_keys, name="api_keys"),
    path("developer/api-keys/<int:key_id>/revoke/", token_views.api_key_revoke, name="api_key_revoke"),
    path("my-accounts/", views.my_accounts, name="my_accounts"),
    path("my-accounts/<slug:code>/", views.account_detail, name="account_detail"),
    path("my-accounts/<slug:code>/members/add/", views.member_add, name="member_add"),
    path("my-accounts/<slug:code>/members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("my-accounts/<slug:code>/show-beta/", views.account_show_beta, name="account_show_beta"),
    path("my-accounts/<slug:code>/usage-alerts/", views.account_usage_alerts, name="account_usage_alerts"),
    path("my-accounts/<slug:code>/staff-tokens/", token_views.staff_tokens, name="staff_tokens"),
    path("my-accounts/<slug:code>/staff-tokens/apps/add/", token_views.private_app_create, name="private_app_create"),
    path("my-accounts/<slug:code>/staff-tokens/apps/<int:app_id>/delete/", token_views.private_app_delete,
         name="private_app_delete"),
    path("my-accounts/<slug:code>/staff-tokens/create/", token_views.staff_token_create, name="staff_token_create"),
    path("my-accounts/<slug:code>/staff-tokens/<int:token_id>/revoke/", token_views.staff_token_revoke,
         name="staff_token_revoke"),
    path("inbox/", views.notifications, name="notifications"),
    path("inbox/read/", views.notifications_read, name="notifications_read"),
    path("review/partners/", views.partner_queue, name="partner_queue"),
    path("review/partners/<int:pk>/", views.partner_review, name="partner_review"),
]
