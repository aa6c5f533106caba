"""The access log's fast records carry exactly what ``logging.LogRecord`` would."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardening.logs._records import RecordTemplate

FIELDS: dict[str, Any] = {"status": 200, "route": "/items/{id}", "duration_ms": 1.25}
_TIME_KEYS = {"created", "msecs", "relativeCreated"}


def _stock(level: int = logging.INFO) -> logging.LogRecord:
    record = logging.LogRecord("hardening.access", level, __file__, 0, "request", (), None, "_emit")
    record.__dict__.update(FIELDS)
    return record


def _fast(level: int = logging.INFO) -> logging.LogRecord:
    values = RecordTemplate("hardening.access", level, "request", __file__, "_emit").start()
    assert values is not None
    values.update(FIELDS)
    return RecordTemplate.finish(values)


def _assert_same(fast: logging.LogRecord, stock: logging.LogRecord) -> None:
    fast_values, stock_values = vars(fast), vars(stock)
    assert set(fast_values) == set(stock_values)
    for key, value in stock_values.items():
        if key in _TIME_KEYS:
            assert type(fast_values[key]) is type(value), key
        else:
            assert fast_values[key] == value, key
    assert abs(fast.created - stock.created) < 5
    assert 0 <= fast.msecs < 1000
    assert fast.relativeCreated >= stock.relativeCreated - 1  # stamped after the stock one


@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING])
def test_every_attribute_matches_a_stock_record(level: int) -> None:
    stock = _stock(level)
    fast = _fast(level)
    _assert_same(fast, stock)
    assert fast.getMessage() == "request"
    assert isinstance(fast, logging.LogRecord)


def test_msecs_agrees_with_created() -> None:
    fast = _fast()
    assert int(fast.msecs) == int((fast.created - int(fast.created)) * 1000) or fast.msecs == 0.0


@settings(max_examples=300, deadline=None)
@given(now=st.floats(min_value=0.0, max_value=4_102_444_800.0) | st.integers(0, 4_102_444_800).map(float))
def test_time_stamps_equal_a_stock_record_stamped_at_the_same_instant(now: float) -> None:
    """The stamps are computed as ``LogRecord`` computes them, to the last bit, at any instant."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(time, "time", lambda: now)
        patch.setattr(time, "time_ns", lambda: int(now * 1e9))  # what Python 3.13 reads
        stock, fast = _stock(), _fast()
    for key in _TIME_KEYS:
        assert getattr(fast, key) == getattr(stock, key), key


def test_formatters_see_the_fields() -> None:
    line = logging.Formatter("%(levelname)s %(name)s %(module)s %(status)s %(route)s").format(_fast())
    assert line == "INFO hardening.access test_log_records 200 /items/{id}"


def test_inside_an_asyncio_task_the_task_name_matches() -> None:
    async def both() -> tuple[logging.LogRecord, logging.LogRecord]:
        return _fast(), _stock()

    async def main() -> tuple[logging.LogRecord, logging.LogRecord]:
        return await asyncio.create_task(both(), name="request-task")

    fast, stock = asyncio.run(main())
    _assert_same(fast, stock)
    if hasattr(stock, "taskName"):
        assert getattr(fast, "taskName", None) == "request-task"


@pytest.fixture
def no_thread_process_info() -> Iterator[None]:
    saved = logging.logThreads, logging.logProcesses, logging.logMultiprocessing
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    try:
        yield
    finally:
        logging.logThreads, logging.logProcesses, logging.logMultiprocessing = saved


@pytest.mark.usefixtures("no_thread_process_info")
def test_the_logging_switches_are_honoured() -> None:
    fast = _fast()
    _assert_same(fast, _stock())
    assert fast.thread is None
    assert fast.process is None
    assert fast.processName is None


def test_a_custom_record_factory_is_left_to_build_the_record() -> None:
    stock_factory = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = stock_factory(*args, **kwargs)
        record.custom = "yes"
        return record

    logging.setLogRecordFactory(factory)
    try:
        template = RecordTemplate("hardening.access", logging.INFO, "request", __file__, "_emit")
        assert template.start() is None
    finally:
        logging.setLogRecordFactory(stock_factory)
