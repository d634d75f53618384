"""Domain errors raised by services; ``api.contract.errors`` maps each onto an HTTP status."""


class DomainError(Exception):
    """Base class: ``status`` and ``title`` describe the error to any front end."""

    status = 500
    title = "Internal Server Error"

    def __init__(self, detail: str, **extra):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(DomainError):
    status = 400
    title = "Bad Request"

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None):
        super().__init__(detail, errors=errors or {})


class NotFound(DomainError):
    status = 404
    title = "Not Found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class PreconditionFailed(DomainError):
    """A conditional write's expected version is not the record's (or it does not exist)."""

    status = 412
    title = "Precondition Failed"


class Unprocessable(DomainError):
    status = 422
    title = "Unprocessable Content"


class PayloadTooLarge(DomainError):
    status = 413
    title = "Request Entity Too Large"  # as werkzeug names Flask's own 413


class Unavailable(DomainError):
    """A dependency (database, cache, broker) cannot be reached right now."""

    status = 503
    title = "Service Unavailable"
