from django.contrib import admin
from django.urls import include, path

from ticketing import views
from ticketing.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.LogoutView.as_view(), name="logout"),
    path("", include("events.urls")),
    path("", include("checkout.urls")),
    path("", include("waitlist.urls")),
]
