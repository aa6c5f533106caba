"""Validator messages written without the input reach the report even for secret fields."""

from __future__ import annotations

import pytest

from hardening import ConfigurationError, load_settings
from hardening.errors import SafeValueError

CANARY = "Zq8canaryPASSWORDx91"


@pytest.mark.needs_extras
def test_sync_storage_scheme_is_explained_without_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sync Redis URI says which async scheme to use, and never prints the password."""
    pytest.importorskip("limits")
    monkeypatch.setenv("HARDENING_ENVIRONMENT", "test")
    monkeypatch.setenv("HARDENING_RATE_LIMIT__STORAGE_URI", f"redis://:{CANARY}@127.0.0.1:6379/0")

    with pytest.raises(ConfigurationError) as info:
        load_settings()

    text = str(info.value)
    assert "async+redis://" in text
    assert "HARDENING_RATE_LIMIT__STORAGE_URI" in text
    assert CANARY not in text
    assert CANARY not in repr(info.value.report)


def test_safe_value_error_is_a_value_error() -> None:
    """Validators can raise it wherever pydantic expects a ValueError."""
    assert issubclass(SafeValueError, ValueError)
