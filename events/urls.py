from django.urls import path

from events import views

app_name = "events"
urlpatterns = [
    path("", views.browse, name="browse"),
    path("events/<int:event_id>/", views.event_detail, name="detail"),
]
