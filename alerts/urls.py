from django.urls import path

from alerts import views

urlpatterns = [
    # Rules
    path("", views.rule_list, name="alert-rules"),
    path("rules/add/", views.rule_add, name="alert-rule-add"),
    path("rules/<int:pk>/", views.rule_edit, name="alert-rule-edit"),
    path("rules/<int:pk>/toggle/", views.rule_toggle, name="alert-rule-toggle"),
    # Channels
    path("channels/add/", views.channel_add, name="alert-channel-add"),
    path("channels/<int:pk>/", views.channel_edit, name="alert-channel-edit"),
    path("channels/<int:pk>/test/", views.channel_test, name="alert-channel-test"),
    # Deliveries
    path("deliveries/", views.deliveries, name="alert-deliveries"),
]
