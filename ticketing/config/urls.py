from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from checkout import staff_views as checkout_staff_views
from checkout import views as checkout_views
from ticketing.accounts import views
from ticketing.config.api import api
from ticketing.ops import health, metrics

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("staff/checkin/", checkout_views.checkin, name="staff-checkin"),
    path("staff/checkin/scan", checkout_staff_views.checkin_scan, name="staff-checkin-scan"),
    # The language switcher (POST, sets the cookie) and the scripts' translations.
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/guest/", views.guest_start, name="guest"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.LogoutView.as_view(), name="logout"),
    path("", include("events.urls")),
    path("", include("checkout.urls")),
    path("", include("waitlist.urls")),
]
