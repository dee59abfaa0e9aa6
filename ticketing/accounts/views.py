"""Account pages: sign up, log in, log out."""

from __future__ import annotations

from django import forms
from django.contrib import auth
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from ticketing.accounts import services
from ticketing.core.errors import ApplicationError, RateLimited
from ticketing.core.validation import SafeFormMixin, column_length
from ticketing.models import User
from ticketing.server.throttles import signup_throttles, token_throttles


def _over_limit(request: HttpRequest, throttles: list) -> bool:
    return not all(t.allow_request(request) for t in throttles)


class LoginView(auth_views.LoginView):
    """Password guessing through the page counts against the same budget as the token endpoint."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        if _over_limit(request, token_throttles()):
            # An unbound form: binding would validate, i.e. check the password after all.
            form = self.get_form_class()(request=request)
            return self.render_to_response(
                self.get_context_data(form=form, rate_limited=RateLimited.message), status=429
            )
        return super().post(request, *args, **kwargs)


class LogoutView(auth_views.LogoutView):
    pass


class SignupForm(SafeFormMixin, forms.Form):
    """Only what a column can store reaches the service (the service checks the rest)."""

    email = forms.CharField(max_length=column_length(User, "email"))
    name = forms.CharField(required=False, max_length=column_length(User, "name"))
    password = forms.CharField(required=False, max_length=1024, strip=False)


def _first_error(form: forms.Form) -> str:
    name, errors = next(iter(form.errors.items()))
    return f"{name.capitalize()}: {errors[0]}"


class GuestForm(SafeFormMixin, forms.Form):
    email = forms.CharField(max_length=column_length(User, "guest_email"))
    name = forms.CharField(max_length=column_length(User, "name"))


def _safe_next(request: HttpRequest, target: str) -> str:
    if not target or not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return "/"
    return target


def guest_start(request: HttpRequest) -> HttpResponse:
    """Buy without an account: a name and an address make a guest account for this browser
    session (the tickets and their link go to the address). Signed-in buyers go straight on."""
    target = _safe_next(request, request.POST.get("next") or request.GET.get("next", ""))
    if request.user.is_authenticated:
        return redirect(target)
    error, status = None, 200
    values = {"email": request.POST.get("email", ""), "name": request.POST.get("name", "")}
    if request.method == "POST" and _over_limit(request, signup_throttles()):
        error, status = RateLimited.message, RateLimited.status
    elif request.method == "POST":
        form = GuestForm(request.POST)
        try:
            if not form.is_valid():
                raise ApplicationError(_first_error(form), status=422)
            user = services.guest_create(name=form.cleaned_data["name"], email=form.cleaned_data["email"])
        except ApplicationError as exc:
            error, status = exc.message, exc.status
        else:
            auth.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect(target)
    return render(
        request,
        "registration/guest.html",
        {"error": error, "values": values, "next": target},
        status=status,
    )


def signup(request: HttpRequest) -> HttpResponse:
    error = None
    values = {"email": "", "name": ""}
    status = 200
    if request.method == "POST" and _over_limit(request, signup_throttles()):
        error, status = RateLimited.message, RateLimited.status
    elif request.method == "POST":
        values = {"email": request.POST.get("email", ""), "name": request.POST.get("name", "")}
        form = SignupForm(request.POST)
        try:
            if not form.is_valid():
                raise ApplicationError(_first_error(form), status=422)
            user = services.user_signup(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                name=form.cleaned_data["name"],
            )
        except ApplicationError as exc:
            error = exc.message
        else:
            auth.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            target = request.POST.get("next") or "/"
            if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
                target = "/"
            return redirect(target)
    if error and status == 200:
        status = 422
    return render(
        request,
        "registration/signup.html",
        {"error": error, "values": values, "next": request.GET.get("next", "")},
        status=status,
    )
