"""What stops a console request: no valid sign-in (to the login page) or an error shown as a page."""

from __future__ import annotations


class LoginRequired(Exception):
    """No valid key: the browser goes to the login page, then back to `next_path`."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PageError(Exception):
    """An error answered as an HTML page (or, to htmx, as a message in the page's message area)."""

    status = 400
    title = "Bad request"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
            self.title = _TITLES.get(status, "Error")


class Refused(PageError):
    """The user may not do this: a missing scope, or a form without the right CSRF token."""

    status = 403
    title = "Not allowed"


class NotFound(PageError):
    status = 404
    title = "Not found"


_TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    422: "Invalid input",
    503: "Unavailable",
}
