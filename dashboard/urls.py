from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from invocations.access.login import AdminLoginForm, LoginForm
from invocations.views import site

admin.site.site_header = "Lambda Triage administration"
admin.site.site_title = "Lambda Triage"
# Both ways in share the login throttle (invocations/access/login.py).
admin.site.login_form = AdminLoginForm

urlpatterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=LoginForm),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("health/", site.health, name="health"),
    path("metrics", site.metrics, name="metrics"),
    path("favicon.ico", site.favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("alerts/", include("alerts.urls")),
    path("", include("invocations.urls")),
]
