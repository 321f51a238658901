"""xAPI-style errors: every 4xx/5xx the LRS sends has a JSON body saying what is wrong."""

from __future__ import annotations

from typing import Any


class XAPIError(Exception):
    """An error answered to the client with ``status`` and a JSON body ``{"error": {...}}``."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None,
                 **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.details = details

    def body(self) -> dict[str, Any]:
        """The JSON body of the response."""
        error: dict[str, Any] = {"code": self.status, "message": self.message}
        error.update({k: v for k, v in self.details.items() if v is not None})
        return {"error": error}
