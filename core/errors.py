"""Errors raised by the Odoo-free core."""

BODY_LIMIT = 4000


class PicoError(Exception):
    """A failed call to Pico, with what the server said."""

    retryable = False

    def __init__(self, message, status=None, code=None, body=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        # Keep the raw answer for the queue row, bounded so a huge HTML error page
        # cannot bloat the database.
        self.body = body[:BODY_LIMIT] if body else body

    def __str__(self):
        parts = []
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(self.code)
        prefix = f"[{' '.join(parts)}] " if parts else ""
        return f"{prefix}{self.message}"


class PicoRetryableError(PicoError):
    """A failure that may succeed later: network, timeout, 408, 429 or 5xx."""

    retryable = True


class PicoPermanentError(PicoError):
    """A failure that will repeat unchanged: other 4xx, GraphQL errors, bad JSON."""

    retryable = False


class PayloadError(ValueError):
    """An incoming payload that does not have the shape we need."""

    def __init__(self, field, message):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
