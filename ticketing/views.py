"""Account pages: sign up, log in, log out."""

from __future__ import annotations

from django.contrib import auth
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from ticketing import services
from ticketing.errors import ApplicationError


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


def signup(request: HttpRequest) -> HttpResponse:
    error = None
    values = {"email": "", "name": ""}
    if request.method == "POST":
        values = {"email": request.POST.get("email", ""), "name": request.POST.get("name", "")}
        try:
            user = services.user_signup(
                email=values["email"], password=request.POST.get("password", ""), name=values["name"]
            )
        except ApplicationError as exc:
            error = exc.message
        else:
            auth.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            target = request.POST.get("next") or "/"
            if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
                target = "/"
            return redirect(target)
    status = 422 if error else 200
    return render(
        request,
        "registration/signup.html",
        {"error": error, "values": values, "next": request.GET.get("next", "")},
        status=status,
    )
