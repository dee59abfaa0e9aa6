"""Pages of the waitlist app."""

from django.urls import path

from waitlist import views

app_name = "waitlist"
urlpatterns = [
    path("waitlist/", views.my_waitlist, name="mine"),
    path("events/<int:event_id>/queue/", views.queue_page, name="queue"),
]
