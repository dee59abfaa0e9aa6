from django.urls import path  # noqa: F401

from checkout import views  # noqa: F401

app_name = "checkout"
urlpatterns: list = []
