"""Pages of the checkout app."""

from django.urls import path

from checkout import views

app_name = "checkout"
urlpatterns = [
    path("events/<int:event_id>/", views.event_page, name="event"),
    path("events/<int:event_id>/seats/", views.seat_picker, name="seats"),
    path("holds/<int:hold_id>/", views.hold_detail, name="hold"),
    path("orders/", views.order_list, name="orders"),
    path("orders/<int:order_id>/", views.order_detail, name="order"),
]
