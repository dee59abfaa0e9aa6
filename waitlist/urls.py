from django.urls import path  # noqa: F401

from waitlist import views  # noqa: F401

app_name = "waitlist"
urlpatterns: list = []
