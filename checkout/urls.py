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
    path("orders/<int:order_id>/tickets.pdf", views.order_pdf_download, name="order_pdf"),
    path("orders/<int:order_id>/event.ics", views.order_ics_download, name="order_ics"),
    path("orders/<int:order_id>/resend", views.order_resend_view, name="order_resend"),
    path(
        "orders/<int:order_id>/tickets/<int:ticket_id>/transfer",
        views.order_ticket_transfer,
        name="order_ticket_transfer",
    ),
    # The order link from the e-mail: opens the order without signing in.
    path("orders/<int:order_id>/<str:token>/", views.order_by_link, name="order_link"),
    path("orders/<int:order_id>/<str:token>/tickets.pdf", views.order_link_pdf, name="order_link_pdf"),
    path("orders/<int:order_id>/<str:token>/event.ics", views.order_link_ics, name="order_link_ics"),
    path("orders/<int:order_id>/<str:token>/resend", views.order_link_resend, name="order_link_resend"),
    path("orders/<int:order_id>/<str:token>/cancel", views.order_link_cancel, name="order_link_cancel"),
    path(
        "orders/<int:order_id>/<str:token>/tickets/<int:ticket_id>/transfer",
        views.order_link_ticket_transfer,
        name="order_link_ticket_transfer",
    ),
    path("tickets/<int:transfer_id>/<str:token>/", views.ticket_by_link, name="ticket_link"),
    path("tickets/<int:transfer_id>/<str:token>/ticket.pdf", views.ticket_link_pdf, name="ticket_link_pdf"),
    path("tickets/<int:transfer_id>/<str:token>/event.ics", views.ticket_link_ics, name="ticket_link_ics"),
]
