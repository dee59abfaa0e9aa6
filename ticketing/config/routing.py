"""Websocket routes of every app."""

from django.urls import path

from waitlist.consumers import EventConsumer

websocket_urlpatterns: list = [
    path("ws/events/<int:event_id>/", EventConsumer.as_asgi()),
]
