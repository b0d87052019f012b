from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("developer/", views.developer_profile, name="developer_profile"),
    path("developer/partner/", views.partner_apply, name="partner_apply"),
    path("my-accounts/", views.my_accounts, name="my_accounts"),
    path("my-accounts/<slug:code>/", views.account_detail, name="account_detail"),
    path("my-accounts/<slug:code>/members/add/", views.member_add, name="member_add"),
    path("my-accounts/<slug:code>/members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("my-accounts/<slug:code>/show-beta/", views.account_show_beta, name="account_show_beta"),
    path("inbox/", views.notifications, name="notifications"),
    path("inbox/read/", views.notifications_read, name="notifications_read"),
    path("review/partners/", views.partner_queue, name="partner_queue"),
    path("review/partners/<int:pk>/", views.partner_review, name="partner_review"),
]
