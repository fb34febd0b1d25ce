"""Log hygiene: what the server's own logs must never carry.

Query strings are the main case: `GET /api/state?user_state=...` and friends carry chat
messages and wallet state, so access-log lines show the path only.
"""

from __future__ import annotations

import logging

ACCESS_LOGGER = "uvicorn.access"


class StripQueryString(logging.Filter):
    """Cut the query string off the request path of uvicorn access-log records.

    uvicorn logs ``'%s - "%s %s HTTP/%s" %d'`` with args ``(client_addr, method, full_path,
    http_version, status_code)``; its path is percent-encoded, so the first ``?`` starts the
    query. Every string argument that is a path is cut, in case the argument order changes.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.split("?", 1)[0] if isinstance(arg, str) and arg.startswith("/") else arg
                for arg in record.args
            )
        return True


def install_access_log_filter() -> None:
    """Attach `StripQueryString` to uvicorn's access logger (once, however often called)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, StripQueryString) for f in logger.filters):
        logger.addFilter(StripQueryString())
