"""Ralph's LRS app with its file-system backend fixed to append: run *inside Ralph's own virtualenv*.

In ralph-malph 4.x to 5.1.0 the LRS calls ``FSLRSBackend.write`` without an operation type, so the data
backend's default (CREATE) applies and every write after the first fails with HTTP 500 ("... already
exists and overwrite is not allowed"). Making APPEND the default for the LRS backend (one JSON line per
statement appended to ``fs_lrs.jsonl``) is the fix; nothing else of Ralph is changed.

Start with ``uvicorn ralph_fs_append:app`` and ``RALPH_RUNSERVER_BACKEND=fs``. This module must not import
anything of this project: Ralph's virtualenv does not have it.
"""

from __future__ import annotations

from typing import Any

from ralph.backends.data.base import BaseOperationType
from ralph.backends.lrs.fs import FSLRSBackend

_original_write = FSLRSBackend.write


def _append_write(self: FSLRSBackend, data: Any, target: str | None = None, chunk_size: int | None = None,
                  ignore_errors: bool = False, operation_type: BaseOperationType | None = None) -> int:
    """``FSLRSBackend.write`` with APPEND as the default operation type."""
    return _original_write(self, data, target, chunk_size, ignore_errors,
                           operation_type or BaseOperationType.APPEND)


FSLRSBackend.write = _append_write  # type: ignore[method-assign]

from ralph.api import app  # noqa: E402 - the patch must be in place before the app builds its backend

__all__ = ["app"]
