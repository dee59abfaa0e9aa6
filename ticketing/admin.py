from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm

from ticketing.core.validation import SafeFormMixin, SafeModelForm
from ticketing.models import ApiToken, Heartbeat, User


class ReadOnlyAdmin(admin.ModelAdmin):
    """For rows that only services write (inventory, audit, waitlist): staff look, never edit."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SafeUserChangeForm(SafeFormMixin, UserChangeForm):
    pass


class SafeUserCreationForm(SafeFormMixin, UserCreationForm):
    pass


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = SafeUserChangeForm
    add_form = SafeUserCreationForm
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "name"]
    fieldsets = (
        (None, {"fields": ("email", "password", "name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    form = SafeModelForm
    list_display = ["id", "user", "name", "created_at"]
    search_fields = ["user__email", "name"]
    readonly_fields = ["key_hash"]


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    """When each background job last ran (written by the jobs; see docs/operations.md)."""

    list_display = ["name", "seen_at", "data"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
