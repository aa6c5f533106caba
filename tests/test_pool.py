"""Unit tests for the pool settings: every rule, formula, emitter and production rule."""

from __future__ import annotations

import math
import random
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from hardening import ConfigurationError, HardeningSettings
from hardening.checks import run_checks
from hardening.pool import (
    CHECKS,
    PoolBudget,
    PoolConfig,
    pool_stats,
    recommend_pool_size,
    workers_from_environment,
)
from hardening.pool.rules import UTILIZATION_WARNING

ISSUE_EXAMPLE = "10 replicas x 4 workers x (10 + 5) = 600 > 87 usable (100 max - 3 superuser - 10 other)"


def issue_config(**overrides: Any) -> PoolConfig:
    values: dict[str, Any] = {
        "replicas": 10,
        "workers": 4,
        "pool_size": 10,
        "max_overflow": 5,
        "surge": 0,
        "max_connections": 100,
        "other_clients": 10,
    }
    values.update(overrides)
    return PoolConfig(**values)


# --------------------------------------------------------------------------- budget


def test_issue_example_fails_with_the_arithmetic() -> None:
    config = issue_config()

    with pytest.raises(ConfigurationError) as info:
        config.check()

    message = str(info.value)
    assert ISSUE_EXAMPLE in message
    assert "HARDENING_POOL__POOL_SIZE" in message
    assert "HARDENING_POOL__MAX_OVERFLOW" in message
    assert "WEB_CONCURRENCY" in message
    assert "at most 2 connections per process fit" in message
    assert info.value.report == tuple(config.problems())


def test_issue_example_refused_when_enabled_at_load() -> None:
    with pytest.raises(ValidationError, match=r"600 > 87 usable"):
        issue_config(enabled=True)


def test_issue_example_refused_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "ENABLED": "true",
        "REPLICAS": "10",
        "WORKERS": "4",
        "POOL_SIZE": "10",
        "MAX_OVERFLOW": "5",
        "SURGE": "0",
        "OTHER_CLIENTS": "10",
    }.items():
        monkeypatch.setenv(f"HARDENING_POOL__{key}", value)

    with pytest.raises(ValueError, match="Connection budget exceeded") as info:  # ConfigurationError
        HardeningSettings()

    assert ISSUE_EXAMPLE in str(info.value)


def test_a_fitting_fleet_passes_and_reports_its_budget() -> None:
    budget = issue_config(replicas=2, pool_size=5, max_overflow=5).check()

    assert budget.fleet_peak == 2 * 4 * 10 == 80
    assert budget.usable == 87
    assert budget.fits
    assert (
        budget.arithmetic() == "2 replicas x 4 workers x (5 + 5) = 80 <= 87 usable (100 max - 3 superuser - 10 other)"
    )


def test_usable_subtracts_every_reserve_and_headroom() -> None:
    config = PoolConfig(
        max_connections=200,
        superuser_reserved_connections=5,
        reserved_connections=4,
        other_clients=11,
        headroom=0.1,
        workers=1,
        surge=0,
    )

    budget = config.budget()

    assert budget.headroom == 20
    assert budget.usable == 200 - 5 - 4 - 11 - 20
    assert budget.usable_arithmetic() == "160 usable (200 max - 5 superuser - 4 reserved - 11 other - 20 headroom)"


def test_default_surge_is_a_quarter_of_the_replicas_rounded_up() -> None:
    assert PoolConfig(replicas=1, workers=1).effective_surge == 1
    assert PoolConfig(replicas=10, workers=1).effective_surge == 3
    assert PoolConfig(replicas=10, workers=1, surge=0).effective_surge == 0


def test_surge_and_pools_per_process_appear_in_the_arithmetic() -> None:
    config = issue_config(surge=3, pools_per_process=2)

    budget = config.budget()

    assert budget.fleet_peak == (10 + 3) * 4 * 2 * 15
    assert budget.peak_arithmetic() == "(10 replicas + 3 surge) x 4 workers x 2 pools x (10 + 5) = 1560"
    with pytest.raises(ConfigurationError, match="1560 > 87 usable"):
        config.check()


def test_single_replica_and_worker_read_naturally() -> None:
    budget = PoolConfig(workers=1, surge=0).budget()

    assert budget.peak_arithmetic() == "1 replica x 1 worker x (5 + 5) = 10"


def test_nothing_usable_is_its_own_error() -> None:
    config = PoolConfig(max_connections=10, other_clients=7, workers=1)

    problems = config.problems()

    assert len(problems) == 1
    assert "No connection is left for the application: 0 usable (10 max - 3 superuser - 7 other)" in problems[0]


def test_cap_says_when_not_even_one_connection_fits() -> None:
    config = PoolConfig(replicas=50, surge=0, workers=4, max_connections=100, pool_size=1, max_overflow=0)

    assert "not even one connection per process fits" in config.problems()[0]


def test_per_process_cap_is_the_largest_fitting_pool() -> None:
    config = issue_config()
    cap = config.budget().per_process_cap

    assert issue_config(pool_size=cap, max_overflow=0).problems() == []
    assert issue_config(pool_size=cap + 1, max_overflow=0).problems() != []


# --------------------------------------------------------------------------- ladders


def test_connect_timeout_must_be_below_acquire_timeout() -> None:
    problems = PoolConfig(workers=1, connect_timeout=10, acquire_timeout=10).problems()

    assert len(problems) == 1
    assert "pool.connect_timeout (HARDENING_POOL__CONNECT_TIMEOUT) is 10 s" in problems[0]
    assert "HARDENING_POOL__ACQUIRE_TIMEOUT" in problems[0]


def test_acquire_timeout_must_be_below_request_timeout() -> None:
    problems = PoolConfig(workers=1, acquire_timeout=30, request_timeout=30, statement_timeout=None).problems()

    assert len(problems) == 1
    assert "HARDENING_POOL__REQUEST_TIMEOUT" in problems[0]


def test_statement_timeout_must_fit_in_the_request() -> None:
    assert PoolConfig(workers=1, statement_timeout=30, request_timeout=30).problems() == []
    problems = PoolConfig(workers=1, statement_timeout=31, request_timeout=30).problems()

    assert len(problems) == 1
    assert "HARDENING_POOL__STATEMENT_TIMEOUT" in problems[0]


@pytest.mark.parametrize("field", ["server_idle_timeout", "proxy_idle_timeout"])
def test_recycle_must_be_below_every_idle_timeout(field: str) -> None:
    assert PoolConfig(workers=1, recycle=299, **{field: 300}).problems() == []

    at_limit = PoolConfig(workers=1, recycle=300, **{field: 300}).problems()
    disabled = PoolConfig(workers=1, recycle=None, **{field: 300}).problems()

    assert len(at_limit) == 1
    assert f"HARDENING_POOL__{field.upper()}) = 300 s" in at_limit[0]
    assert len(disabled) == 1
    assert "HARDENING_POOL__RECYCLE) is off" in disabled[0]


def test_jitter_only_ever_shortens_the_recycle() -> None:
    config = PoolConfig(workers=1, recycle=1000, recycle_jitter=0.2)
    rng = random.Random(7)

    draws = [config.jittered_recycle(rng) for _ in range(200)]

    assert all(d is not None and 800 <= d <= 1000 for d in draws)
    assert len({round(d or 0, 3) for d in draws}) > 100
    assert PoolConfig(workers=1, recycle=None).jittered_recycle() is None
    assert PoolConfig(workers=1, recycle=1000, recycle_jitter=0).jittered_recycle() == 1000


def test_pgbouncer_transaction_mode_with_statement_cache_is_an_error() -> None:
    problems = PoolConfig(workers=1, pgbouncer_transaction_mode=True).problems()

    assert len(problems) == 1
    assert "HARDENING_POOL__PREPARED_STATEMENT_CACHE_SIZE=0" in problems[0]
    assert PoolConfig(workers=1, pgbouncer_transaction_mode=True, prepared_statement_cache_size=0).problems() == []


def test_every_broken_rule_is_reported_at_once() -> None:
    config = issue_config(connect_timeout=20, acquire_timeout=15, request_timeout=10, pgbouncer_transaction_mode=True)

    with pytest.raises(ConfigurationError) as info:
        config.check()

    # budget, connect >= acquire, acquire >= request, statement > request, PgBouncer cache
    assert str(info.value).count("\n  - ") == 5


# --------------------------------------------------------------------------- fields


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pool_size", 0),  # SQLAlchemy: 0 means no limit
        ("max_overflow", -1),  # SQLAlchemy: -1 means unlimited overflow
        ("acquire_timeout", 0),
        ("acquire_timeout", math.inf),
        ("connect_timeout", -1),
        ("recycle", 0),
        ("recycle_jitter", 0.9),
        ("statement_timeout", math.nan),
        ("workers", 0),
        ("replicas", 0),
        ("surge", -1),
        ("max_connections", 0),
        ("headroom", 1.0),
        ("prepared_statement_cache_size", -1),
        ("application_name", ""),
        ("application_name", "x" * 64),
        ("application_name", "café"),
        ("application_name", "a\nb"),
    ],
)
def test_out_of_range_values_are_refused_never_clamped(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        PoolConfig(**{"workers": 1, field: value})


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="pool_timeout"):
        PoolConfig(pool_timeout=5)  # type: ignore[call-arg]


def test_workers_default_to_web_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "6")
    assert PoolConfig().workers == 6
    assert HardeningSettings().pool.workers == 6
    monkeypatch.setenv("HARDENING_POOL__WORKERS", "3")
    assert HardeningSettings().pool.workers == 3
    monkeypatch.delenv("WEB_CONCURRENCY")
    assert workers_from_environment() == 1


@pytest.mark.parametrize("raw", ["0", "-2", "four", "1.5"])
def test_bad_web_concurrency_names_the_variable(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", raw)

    with pytest.raises(ConfigurationError, match=r"WEB_CONCURRENCY .* HARDENING_POOL__WORKERS"):
        PoolConfig()


def test_defaults_are_sound_and_disabled_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    config = HardeningSettings().pool

    assert config.enabled is False
    assert config.check().fleet_peak == 2 * 1 * 10  # 1 replica + 1 surge (25 % rounded up)


def test_disabled_config_is_not_checked_at_load_but_is_by_the_emitters() -> None:
    config = issue_config()  # does not raise: enabled is False

    for emit in (
        config.sqlalchemy_engine_kwargs,
        config.sqlalchemy_async_engine_kwargs,
        config.asyncpg_pool_kwargs,
        config.psycopg_pool_kwargs,
    ):
        with pytest.raises(ConfigurationError, match="600 > 87"):
            emit()


# --------------------------------------------------------------------------- hypothesis


deployments = st.fixed_dictionaries(
    {
        "replicas": st.integers(1, 60),
        "surge": st.none() | st.integers(0, 20),
        "workers": st.integers(1, 32),
        "pools_per_process": st.integers(1, 3),
        "pool_size": st.integers(1, 60),
        "max_overflow": st.integers(0, 60),
        "max_connections": st.integers(1, 5000),
        "superuser_reserved_connections": st.integers(0, 10),
        "reserved_connections": st.integers(0, 10),
        "other_clients": st.integers(0, 200),
        "headroom": st.sampled_from([0.0, 0.05, 0.1, 0.25]),
    }
)


@given(deployments)
def test_an_accepted_configuration_never_exceeds_the_budget(values: dict[str, Any]) -> None:
    config = PoolConfig(**values)
    surge = values["surge"] if values["surge"] is not None else math.ceil(values["replicas"] / 4)
    peak = (
        (values["replicas"] + surge)
        * values["workers"]
        * values["pools_per_process"]
        * (values["pool_size"] + values["max_overflow"])
    )
    usable = (
        values["max_connections"]
        - values["superuser_reserved_connections"]
        - values["reserved_connections"]
        - values["other_clients"]
        - math.ceil(values["headroom"] * values["max_connections"])
    )

    if config.problems():
        assert peak > usable or usable <= 0
        with pytest.raises(ConfigurationError, match="usable"):
            config.check()
    else:
        assert config.check().fleet_peak == peak
        assert 0 < peak <= usable


@given(deployments)
def test_the_cap_always_fits_and_one_more_never_does(values: dict[str, Any]) -> None:
    budget = PoolConfig(**values).budget()
    cap = budget.per_process_cap
    pools = values["pools_per_process"]

    assert cap % pools == 0
    if cap:
        fits = PoolConfig(**{**values, "pool_size": cap // pools, "max_overflow": 0})
        assert fits.budget().fits
    bigger = PoolConfig(**{**values, "pool_size": cap // pools + 1, "max_overflow": 0})
    assert not bigger.budget().fits


@given(
    cores=st.integers(1, 128),
    workers=st.integers(1, 32),
    replicas=st.integers(1, 50),
    surge=st.integers(0, 10),
    spindles=st.integers(0, 8),
    budget=st.integers(0, 5000),
)
def test_a_recommendation_always_fits_its_budget(
    cores: int, workers: int, replicas: int, surge: int, spindles: int, budget: int
) -> None:
    try:
        rec = recommend_pool_size(
            cores=cores, workers=workers, replicas=replicas, budget=budget, surge=surge, spindles=spindles
        )
    except ConfigurationError:
        assert budget < (replicas + surge) * workers
        return
    assert rec.pool_size >= 1
    assert (replicas + surge) * workers * (rec.pool_size + rec.max_overflow) <= budget
    assert rec.pool_size == min(rec.throughput_per_process, rec.budget_per_process)


# --------------------------------------------------------------------------- recommendation


def test_recommendation_limited_by_throughput() -> None:
    rec = recommend_pool_size(cores=8, workers=4, replicas=2, budget=87)

    assert rec.target_active == 16
    assert rec.throughput_per_process == 2  # ceil(16 / 8 processes)
    assert rec.budget_per_process == 87 // 8  # no surge given
    assert (rec.pool_size, rec.max_overflow, rec.limited_by) == (2, 1, "throughput")
    assert "8 cores x 2 + 0 spindles = 16" in rec.explanation
    assert str(rec) == rec.explanation


def test_recommendation_limited_by_budget() -> None:
    rec = recommend_pool_size(cores=64, workers=4, replicas=10, budget=87, surge=3)

    assert rec.target_active == 128
    assert rec.budget_per_process == 87 // 52 == 1
    assert (rec.pool_size, rec.max_overflow, rec.limited_by) == (1, 0, "budget")
    assert "The budget is the limit" in rec.explanation


def test_recommendation_refuses_an_impossible_budget() -> None:
    with pytest.raises(ConfigurationError, match="87 usable connections shared by 104 processes"):
        recommend_pool_size(cores=4, workers=8, replicas=10, budget=87, surge=3)


@pytest.mark.parametrize("name", ["cores", "workers", "replicas"])
def test_recommendation_validates_its_inputs(name: str) -> None:
    kwargs = {"cores": 4, "workers": 4, "replicas": 2, "budget": 87, name: 0}

    with pytest.raises(ConfigurationError, match=name):
        recommend_pool_size(**kwargs)


# --------------------------------------------------------------------------- emitters


def test_sqlalchemy_async_asyncpg_kwargs() -> None:
    config = PoolConfig(workers=1, application_name="orders-api", recycle=1000, recycle_jitter=0.1)

    kwargs = config.sqlalchemy_async_engine_kwargs(driver="asyncpg", rng=random.Random(1))

    assert kwargs["pool_size"] == 5
    assert kwargs["max_overflow"] == 5
    assert kwargs["pool_timeout"] == 10.0
    assert kwargs["pool_pre_ping"] is True
    assert 900 <= kwargs["pool_recycle"] <= 1000
    assert kwargs["connect_args"] == {
        "timeout": 5.0,
        "server_settings": {
            "statement_timeout": "20000",
            "idle_in_transaction_session_timeout": "60000",
            "application_name": "orders-api",
        },
        "prepared_statement_cache_size": 100,
    }


def test_sqlalchemy_psycopg_kwargs_use_options() -> None:
    config = PoolConfig(workers=1, application_name="orders-api", connect_timeout=2.5, recycle=None)

    kwargs = config.sqlalchemy_engine_kwargs(driver="psycopg")
    async_kwargs = config.sqlalchemy_async_engine_kwargs(driver="psycopg")

    assert kwargs == async_kwargs
    assert kwargs["pool_recycle"] == -1
    assert kwargs["connect_args"] == {
        "connect_timeout": 3,
        "application_name": "orders-api",
        "options": "-c statement_timeout=20000 -c idle_in_transaction_session_timeout=60000",
    }


def test_timeouts_off_send_no_options() -> None:
    config = PoolConfig(workers=1, statement_timeout=None, idle_in_transaction_timeout=None)

    assert "options" not in config.sqlalchemy_engine_kwargs(driver="psycopg2")["connect_args"]
    assert "server_settings" not in config.asyncpg_pool_kwargs()


@pytest.mark.needs_extras
def test_pgbouncer_mode_emits_nullpool_and_no_startup_parameters() -> None:
    from sqlalchemy.pool import NullPool

    config = PoolConfig(
        workers=1, pgbouncer_transaction_mode=True, prepared_statement_cache_size=0, application_name="svc"
    )

    kwargs = config.sqlalchemy_async_engine_kwargs(driver="asyncpg")
    sync = config.sqlalchemy_engine_kwargs(driver="psycopg")

    assert kwargs["poolclass"] is NullPool
    assert "pool_size" not in kwargs
    assert "pool_timeout" not in kwargs
    connect = kwargs["connect_args"]
    assert connect["server_settings"] == {"application_name": "svc"}
    assert connect["statement_cache_size"] == 0
    assert connect["prepared_statement_cache_size"] == 0
    names = {connect["prepared_statement_name_func"]() for _ in range(3)}
    assert len(names) == 3
    assert all(name.startswith("__asyncpg_") for name in names)
    assert sync["poolclass"] is NullPool
    assert sync["connect_args"] == {"connect_timeout": 5, "application_name": "svc", "prepare_threshold": None}


def test_unknown_driver_is_refused() -> None:
    with pytest.raises(ValueError, match="mysql"):
        PoolConfig(workers=1).sqlalchemy_async_engine_kwargs(driver="mysql")  # type: ignore[arg-type]


def test_asyncpg_pool_kwargs() -> None:
    config = PoolConfig(workers=1, pool_size=3, max_overflow=2, recycle=None, prepared_statement_cache_size=0)

    kwargs = config.asyncpg_pool_kwargs()

    assert kwargs == {
        "min_size": 3,
        "max_size": 5,
        "max_inactive_connection_lifetime": 0.0,
        "timeout": 5.0,
        "statement_cache_size": 0,
        "server_settings": {"statement_timeout": "20000", "idle_in_transaction_session_timeout": "60000"},
    }


@pytest.mark.needs_extras
def test_psycopg_pool_kwargs() -> None:
    from psycopg_pool import AsyncConnectionPool, ConnectionPool

    config = PoolConfig(workers=1, pool_size=2, max_overflow=1, recycle=600)

    kwargs = config.psycopg_pool_kwargs()
    sync = config.psycopg_pool_kwargs(asynchronous=False)
    no_ping = PoolConfig(workers=1, pre_ping=False, recycle=None).psycopg_pool_kwargs()

    assert kwargs["check"] is AsyncConnectionPool.check_connection
    assert sync["check"] is ConnectionPool.check_connection
    assert (kwargs["min_size"], kwargs["max_size"], kwargs["timeout"], kwargs["max_lifetime"]) == (2, 3, 10.0, 600)
    assert kwargs["kwargs"]["options"].startswith("-c statement_timeout=20000")
    assert "check" not in no_ping
    assert "max_lifetime" not in no_ping


def test_configuring_imports_no_driver() -> None:
    code = (
        "import sys\n"
        "from hardening.pool import PoolConfig, recommend_pool_size\n"
        "c = PoolConfig(workers=2, enabled=True)\n"
        "c.asyncpg_pool_kwargs(); c.sqlalchemy_async_engine_kwargs()\n"
        "recommend_pool_size(cores=4, workers=2, replicas=2, budget=87)\n"
        "bad = [m for m in ('sqlalchemy', 'asyncpg', 'psycopg', 'psycopg_pool') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- stats


@pytest.mark.needs_extras
def test_pool_stats_on_a_sqlalchemy_queue_pool() -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import QueuePool

    engine = create_engine("sqlite:///:memory:", poolclass=QueuePool, pool_size=2, max_overflow=1)
    try:
        assert pool_stats(engine) == pool_stats(engine.pool)
        first, second, third = engine.connect(), engine.connect(), engine.connect()
        stats = pool_stats(engine)
        assert (stats.in_use, stats.size, stats.max_size, stats.overflow, stats.waiting) == (3, 3, 3, 1, 0)
        assert stats.saturated
        assert stats.utilization == 1.0
        for conn in (first, second, third):
            conn.close()
        idle = pool_stats(engine)
        assert (idle.in_use, idle.idle, idle.saturated) == (0, 2, False)
    finally:
        engine.dispose()


def test_pool_stats_refuses_unknown_objects() -> None:
    with pytest.raises(TypeError, match="cannot read a str"):
        pool_stats("postgresql://")


def test_pool_stats_unbounded_pool_is_never_saturated_by_count() -> None:
    from hardening.pool import PoolStats

    stats = PoolStats(in_use=50, size=50, max_size=None, waiting=None, overflow=0)

    assert stats.utilization is None
    assert not stats.saturated


# --------------------------------------------------------------------------- production rules


def findings(**pool: Any) -> dict[str, list[str]]:
    settings = HardeningSettings(pool=PoolConfig(**{"workers": 1, "enabled": True, **pool}))
    result: dict[str, list[str]] = {}
    for check in CHECKS:
        for finding in check(settings):
            result.setdefault(finding.id, []).append(finding.setting)
            assert finding.env_var.startswith("HARDENING_POOL__")
    return result


DECLARED = {"replicas": 2, "max_connections": 100, "application_name": "svc"}


def test_sound_declared_config_has_no_findings() -> None:
    assert findings(**DECLARED) == {}


def test_disabled_pool_has_no_findings() -> None:
    settings = HardeningSettings(pool=PoolConfig(workers=1, pre_ping=False, recycle=None))

    assert [f for check in CHECKS for f in check(settings)] == []


@pytest.mark.parametrize(
    ("overrides", "rule", "setting"),
    [
        ({"pre_ping": False}, "HARDENING-POOL-001", "pool.pre_ping"),
        ({"recycle": None}, "HARDENING-POOL-002", "pool.recycle"),
        ({"acquire_timeout": 0.1, "connect_timeout": 0.05}, "HARDENING-POOL-003", "pool.acquire_timeout"),
        ({"max_connections": 40}, "HARDENING-POOL-004", "pool.pool_size"),
        ({"statement_timeout": None}, "HARDENING-POOL-005", "pool.statement_timeout"),
        ({"idle_in_transaction_timeout": None}, "HARDENING-POOL-006", "pool.idle_in_transaction_timeout"),
        (
            {"pgbouncer_transaction_mode": True, "prepared_statement_cache_size": 0},
            "HARDENING-POOL-008",
            "pool.statement_timeout",
        ),
        ({"application_name": None}, "HARDENING-POOL-009", "pool.application_name"),
    ],
)
def test_each_rule_fires_on_its_suspicious_value(overrides: dict[str, Any], rule: str, setting: str) -> None:
    found = findings(**{**DECLARED, **overrides})

    assert set(found) == {rule}
    assert setting in found[rule]


def test_utilization_rule_threshold() -> None:
    # 3 processes (2 replicas + 1 surge) x 10 = 30 of 27 usable fails; 30 of 37 (81 %) warns.
    assert UTILIZATION_WARNING == 0.8
    assert "HARDENING-POOL-004" in findings(**{**DECLARED, "max_connections": 40})
    assert "HARDENING-POOL-004" not in findings(**{**DECLARED, "max_connections": 41})


def test_undeclared_deployment_facts_are_flagged() -> None:
    found = findings(application_name="svc")

    assert found == {"HARDENING-POOL-007": ["pool.replicas", "pool.max_connections"]}


def test_rules_are_registered_with_the_registry() -> None:
    settings = HardeningSettings(pool=PoolConfig(workers=1, enabled=True, **{**DECLARED, "pre_ping": False}))

    ids = {finding.id for finding in run_checks(settings)}

    assert "HARDENING-POOL-001" in ids


def test_budget_dataclass_is_consistent_with_config() -> None:
    budget = issue_config().budget()

    assert isinstance(budget, PoolBudget)
    assert budget.processes == 40
    assert budget.per_process == 15
    assert budget.utilization == pytest.approx(600 / 87)
    assert not budget.fits
