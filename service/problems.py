"""RFC 9457 problem details: the errors the service raises, and how they reach the caller."""

from typing import Any

PROBLEM_BASE = "https://enrollment.example/problems/"


class Problem(Exception):
    """An error with an HTTP status; FrontDoor answers it as problem+json."""

    status = 500
    kind = "internal-error"
    title = "Internal server error"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions
        self.headers: dict[str, str] = {}

    def body(self, instance: str) -> dict[str, Any]:
        """The problem document for a request to `instance`."""
        return {
            "type": PROBLEM_BASE + self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
            **self.extensions,
        }


class BadRequest(Problem):
    status, kind, title = 400, "malformed-request", "Malformed request"


class NotFound(Problem):
    status, kind, title = 404, "not-found", "Resource not found"


class MethodNotAllowed(Problem):
    status, kind, title = 405, "method-not-allowed", "Method not allowed"


class RequestTimeout(Problem):
    status, kind, title = 408, "request-timeout", "Request body too slow"


class Conflict(Problem):
    status, kind, title = 409, "conflict", "Conflict with the current state"


class AlreadyEnrolled(Conflict):
    kind, title = "already-enrolled", "Already enrolled"


class CourseFull(Conflict):
    kind, title = "course-full", "Course full"


class InvalidTransition(Conflict):
    kind, title = "invalid-transition", "Enrollment status does not allow this move"


class CursorExpired(Problem):
    """410: the feed no longer keeps what follows the cursor; resynchronise from the
    collections, then follow the feed from `oldest_cursor`."""

    status, kind, title = 410, "cursor-expired", "Cursor older than the change feed keeps"


class PreconditionFailed(Problem):
    """412: If-Match named another ETag than the resource's current one; nothing changed."""

    status, kind, title = 412, "precondition-failed", "Precondition failed"


class PayloadTooLarge(Problem):
    status, kind, title = 413, "payload-too-large", "Request body too large"


class UnsupportedMediaType(Problem):
    status, kind, title = 415, "unsupported-media-type", "Request body must be JSON"


class ValidationFailed(Problem):
    """422 with `errors`: each a JSON pointer into the body, or a query parameter's name."""

    status, kind, title = 422, "validation-error", "Request is not valid"

    def __init__(self, errors: list[dict[str, str]], detail: str = "") -> None:
        summary = detail or "; ".join(_describe(error) for error in errors)
        super().__init__(summary, errors=errors)


class UnknownCourses(ValidationFailed):
    """422 naming each course id in the body that does not exist."""


class ServiceUnavailable(Problem):
    """503: the database did not answer in time or cannot be reached; safe to retry."""

    status, kind, title = 503, "service-unavailable", "Service temporarily unavailable"

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.headers["Retry-After"] = str(retry_after)


def _describe(error: dict[str, str]) -> str:
    where = error.get("pointer") or error.get("parameter") or "/"
    return f"{where}: {error['detail']}"


def field_error(pointer: str, detail: str) -> dict[str, str]:
    return {"pointer": pointer, "detail": detail}


def parameter_error(parameter: str, detail: str) -> dict[str, str]:
    return {"parameter": parameter, "detail": detail}
