"""Build a ``logging.LogRecord`` for a hot path without ``LogRecord.__init__``'s general work.

The access log writes one record per request. ``LogRecord.__init__`` splits the file
name, looks up the level name and inspects ``args`` every time, then the fields are
merged into the instance dict, which grows and reallocates on the way. Here the
attributes are computed as the standard library computes them, for the Python version
running, and written in one dict of the final size.

Only used when the record factory is the standard one (``logging.getLogRecordFactory()
is logging.LogRecord``); a custom factory (OpenTelemetry's log correlation installs
one) is always called instead. ``tests/test_log_records.py`` compares every attribute
with a record built by ``LogRecord`` itself on each supported Python version.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any, Final

__all__ = ("RecordTemplate",)

_NEW: Final = object.__new__
_NS_CLOCK: Final = sys.version_info >= (3, 13)  # 3.13 stamps records from time.time_ns()
_TASK_NAME: Final = sys.version_info >= (3, 12)  # 3.12 added LogRecord.taskName


class RecordTemplate:
    """The attributes of the records one call site emits, laid out once.

    :meth:`start` returns a copy of a dict that already holds every key the record will
    have (the constant ones with their values, the per-record ones as placeholders), so
    filling it in never grows it; :meth:`finish` turns it into the record.

    Args:
        name: The logger name.
        level: The level of every record from this site.
        msg: The message (no ``%`` arguments).
        pathname: The source file named in the record.
        func: The function named in the record.
        field_names: The ``extra`` fields every record of this site carries.
    """

    __slots__ = ("_layout",)

    def __init__(self, name: str, level: int, msg: str, pathname: str, func: str, field_names: tuple[str, ...] = ()):
        filename = os.path.basename(pathname)
        layout: dict[str, Any] = {
            "name": name,
            "msg": msg,
            "args": (),
            "levelname": logging.getLevelName(level),
            "levelno": level,
            "pathname": pathname,
            "filename": filename,
            "module": os.path.splitext(filename)[0],
            "exc_info": None,
            "exc_text": None,
            "stack_info": None,
            "lineno": 0,
            "funcName": func,
            "created": 0.0,
            "msecs": 0.0,
            "relativeCreated": 0.0,
            "thread": None,
            "threadName": None,
            "processName": None,
            "process": None,
        }
        if _TASK_NAME:
            layout["taskName"] = None
        layout.update(dict.fromkeys(field_names))
        self._layout = layout

    def start(self) -> dict[str, Any] | None:
        """Return the attribute values of a new record, stamped now; ``None`` under a custom factory.

        The caller sets the ``extra`` fields in the dict, then calls :meth:`finish`. ``None``
        tells it to build the record the ordinary way, through ``logging.getLogRecordFactory()``.
        """
        if logging.getLogRecordFactory() is not logging.LogRecord:
            return None
        values = self._layout.copy()
        if _NS_CLOCK:
            ns = time.time_ns()
            created = ns / 1e9
            msecs = (ns % 1_000_000_000) // 1_000_000 + 0.0
            if msecs == 999.0 and int(created) != ns // 1_000_000_000:
                msecs = 0.0
            values["created"] = created
            values["msecs"] = msecs
            values["relativeCreated"] = (ns - logging._startTime) / 1e6  # type: ignore[attr-defined]
        else:
            # LogRecord's ``int((now - int(now)) * 1000) + 0.0`` and ``(now - _startTime) * 1000``
            # in float-only operations (no int round trip), which give the same values for
            # any time after 1970: ``now % 1.0`` is ``now - int(now)`` exactly, and ``// 1.0``
            # of a non-negative number is ``int()`` as a float.
            now = time.time()
            values["created"] = now
            values["msecs"] = (now % 1.0 * 1000.0) // 1.0
            values["relativeCreated"] = (now - logging._startTime) * 1000.0  # type: ignore[attr-defined]
        if logging.logThreads:
            values["thread"] = threading.get_ident()
            values["threadName"] = threading.current_thread().name
        if logging.logMultiprocessing:
            values["processName"] = _process_name()
        if logging.logProcesses:
            values["process"] = os.getpid()
        if _TASK_NAME:
            values["taskName"] = _task_name()
        return values

    @staticmethod
    def finish(values: dict[str, Any]) -> logging.LogRecord:
        """Return the record whose attributes are ``values`` (from :meth:`start`)."""
        record: logging.LogRecord = _NEW(logging.LogRecord)
        record.__dict__ = values
        return record


def _process_name() -> str | None:
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is None:
        return "MainProcess"
    try:
        return str(multiprocessing.current_process().name)
    except Exception:  # as in LogRecord: never fail to log because of this
        return "MainProcess"


def _task_name() -> str | None:
    if not getattr(logging, "logAsyncioTasks", True):
        return None
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return None
    try:
        task = asyncio.current_task()
    except Exception:  # no running loop, as in LogRecord
        return None
    return task.get_name() if task is not None else None
