from ticketing.errors import ApplicationError  # noqa: F401
