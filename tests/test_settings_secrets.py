"""Secrets: VAR_FILE, secrets dirs, and the canary that must never be printed."""

from __future__ import annotations

import json
import os
import string
import traceback
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from hardening import AppSettings, ConfigurationError, SettingsReport, check_settings, explain, load_settings
from hardening.cli import main
from hardening.settings.secrets import SecretFileError, read_secret_file

CANARY = "canary-7f3e9a1c-DO-NOT-PRINT"
DEV = {"HARDENING_ENVIRONMENT": "development"}


class Secrets(AppSettings):
    """One secret per source, plus a field that will be invalid."""

    api_key: SecretStr | None = None
    """From the environment."""
    dotenv_token: SecretStr | None = None
    """From .env."""
    db_password: SecretStr | None = None
    """From DB_PASSWORD_FILE."""
    signing_key: SecretStr | None = None
    """From the secrets directory."""
    port: int = 8000
    """Made invalid to force a failed load."""
    required_thing: str
    """Left missing."""


def _report(error: ConfigurationError) -> SettingsReport:
    assert isinstance(error.report, SettingsReport)
    return error.report


# --- VAR_FILE -------------------------------------------------------------------------


def test_file_indirection_strips_one_trailing_newline(tmp_path: Path) -> None:
    secret = tmp_path / "db_password"
    secret.write_text("s3cret-value\n\n")
    settings = load_settings(Secrets, environ={**DEV, "DB_PASSWORD_FILE": str(secret), "REQUIRED_THING": "x"})
    assert settings.db_password is not None
    assert settings.db_password.get_secret_value() == "s3cret-value\n"
    rows = {f.env_var: f for f in explain(Secrets, environ={**DEV, "DB_PASSWORD_FILE": str(secret)}).fields}
    assert rows["DB_PASSWORD"].source == "secret file (DB_PASSWORD_FILE)"


def test_crlf_is_stripped(tmp_path: Path) -> None:
    secret = tmp_path / "s"
    secret.write_bytes(b"abc-def\r\n")
    assert read_secret_file(secret) == "abc-def"


def test_file_too_large_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "big"
    secret.write_text(CANARY * 10)
    with pytest.raises(ConfigurationError) as exc:
        load_settings(
            Secrets,
            environ={**DEV, "DB_PASSWORD_FILE": str(secret), "REQUIRED_THING": "x"},
            max_secret_file_size=16,
        )
    problem = next(p for p in _report(exc.value).problems if p.env_var == "DB_PASSWORD_FILE")
    assert "16-byte limit" in problem.message
    assert CANARY not in str(exc.value)


def test_symlink_leaving_the_secrets_dir_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text(CANARY)
    secrets_dir = tmp_path / "run-secrets"
    secrets_dir.mkdir()
    (secrets_dir / "DB_PASSWORD").symlink_to(outside)
    with pytest.raises(SecretFileError):
        read_secret_file(secrets_dir / "DB_PASSWORD")
    report = check_settings(
        Secrets,
        environ={**DEV, "DB_PASSWORD_FILE": str(secrets_dir / "DB_PASSWORD"), "REQUIRED_THING": "x"},
        secrets_dir=secrets_dir,
    )
    problem = next(p for p in report.problems if p.env_var == "DB_PASSWORD_FILE")
    assert "outside its secrets directory" in problem.message
    assert CANARY not in report.to_json()
    dir_report = check_settings(Secrets, environ={**DEV, "REQUIRED_THING": "x"}, secrets_dir=secrets_dir)
    assert any("secrets-dir file" in p.message for p in dir_report.problems)


def test_kubernetes_style_symlinks_inside_the_dir_are_fine(tmp_path: Path) -> None:
    mount = tmp_path / "mount"
    data = mount / "..2026_01_01"
    data.mkdir(parents=True)
    (data / "DB_PASSWORD").write_text("k8s-secret-value")
    (mount / "..data").symlink_to(data.name)
    (mount / "DB_PASSWORD").symlink_to(Path("..data") / "DB_PASSWORD")
    settings = load_settings(Secrets, environ={**DEV, "REQUIRED_THING": "x"}, secrets_dir=mount)
    assert settings.db_password is not None
    assert settings.db_password.get_secret_value() == "k8s-secret-value"


def test_missing_file_and_directory_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SecretFileError, match="does not exist"):
        read_secret_file(tmp_path / "nope")
    with pytest.raises(SecretFileError, match="regular file"):
        read_secret_file(tmp_path, secrets_dirs=[tmp_path.parent])


def test_both_var_and_file_set_is_an_error(tmp_path: Path) -> None:
    secret = tmp_path / "p"
    secret.write_text("a-secret")
    report = check_settings(
        Secrets, environ={**DEV, "DB_PASSWORD": "other", "DB_PASSWORD_FILE": str(secret), "REQUIRED_THING": "x"}
    )
    assert any("both DB_PASSWORD and DB_PASSWORD_FILE" in p.message for p in report.problems)


def test_missing_secrets_dir_is_silent() -> None:
    settings = load_settings(Secrets, environ={**DEV, "REQUIRED_THING": "x"}, secrets_dir="/nonexistent/run/secrets")
    assert settings.db_password is None


# --- the canary -----------------------------------------------------------------------


def _plant(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"DOTENV_TOKEN={CANARY}-dotenv\nUNRELATED_TOKEN={CANARY}-unrelated\n")
    secret_file = tmp_path / "db_password"
    secret_file.write_text(f"{CANARY}-file\n")
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "SIGNING_KEY").write_text(f"{CANARY}-dir")
    env = {
        "API_KEY": f"{CANARY}-env",
        "DB_PASSWORD_FILE": str(secret_file),
        "PORT": f"{CANARY}-port",
        "HARDENING_BODY_LIMIT__MAX_BYTES": f"{CANARY}-nested",
    }
    return env, dotenv, secrets_dir


def test_canary_never_appears_in_any_output_of_a_failed_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env, dotenv, secrets_dir = _plant(tmp_path)
    with pytest.raises(ConfigurationError) as exc:
        load_settings(Secrets, environ=env, env_file=dotenv, secrets_dir=secrets_dir)
    error = exc.value
    report = _report(error)
    outputs = [
        str(error),
        repr(error),
        str(error.args),
        str(report),
        repr(report),
        report.to_json(),
        json.dumps(report.to_dict()),
        "".join(traceback.format_exception(error)),
        "".join(traceback.format_exception(type(error), error, error.__traceback__)),
        repr(error.__cause__),
        repr(error.__context__),
    ]
    explained = explain(Secrets, environ=env, env_file=dotenv, secrets_dir=secrets_dir)
    outputs += [explained.text(), explained.to_json(), repr(explained.fields)]
    for output in outputs:
        assert CANARY not in output
    for name in ("PORT", "REQUIRED_THING", "HARDENING_BODY_LIMIT__MAX_BYTES"):
        assert name in str(error)

    module = tmp_path / "canary_settings.py"
    module.write_text(
        "from pydantic import SecretStr\nfrom hardening import AppSettings\n\n"
        "class Settings(AppSettings):\n"
        "    api_key: SecretStr | None = None\n    dotenv_token: SecretStr | None = None\n"
        "    db_password: SecretStr | None = None\n    signing_key: SecretStr | None = None\n"
        "    port: int = 8000\n    required_thing: str\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    capsys.readouterr()
    for argv in (
        ["env", "check", "canary_settings:Settings", "--env-file", str(dotenv), "--secrets-dir", str(secrets_dir)],
        ["env", "check", "canary_settings:Settings", "--format", "json", "--env-file", str(dotenv)],
        ["env", "explain", "canary_settings:Settings", "--env-file", str(dotenv)],
        ["env", "explain", "canary_settings:Settings", "--format", "json"],
        ["env", "example", "canary_settings:Settings"],
    ):
        main(argv)
        captured = capsys.readouterr()
        assert CANARY not in captured.out + captured.err
        assert captured.out


def test_canary_in_a_valid_load_is_registered_and_masked(tmp_path: Path) -> None:
    env, dotenv, secrets_dir = _plant(tmp_path)
    env = {**env, **DEV, "PORT": "8000", "REQUIRED_THING": "x"}
    del env["HARDENING_BODY_LIMIT__MAX_BYTES"]
    settings = load_settings(Secrets, environ=env, env_file=dotenv, secrets_dir=secrets_dir)
    assert settings.signing_key is not None
    assert settings.signing_key.get_secret_value() == f"{CANARY}-dir"
    assert CANARY not in repr(settings)
    assert CANARY not in str(settings.model_dump())
    explained = explain(Secrets, environ=env, env_file=dotenv, secrets_dir=secrets_dir)
    assert CANARY not in explained.text()
    assert explained.shown["signing_key"] == "********"


# --- hypothesis -----------------------------------------------------------------------


class Generated(AppSettings):
    """Fields of each basic kind."""

    name: str = "svc"
    port: int = 8000
    ratio: float = 0.5
    flag: bool = False
    tags: tuple[str, ...] = ()
    token: SecretStr | None = None


_TEXT = st.text(alphabet=string.ascii_letters + string.digits + "-_./:@ ", min_size=1, max_size=30).filter(
    lambda s: s == s.strip()
)
_SECRETS = st.text(alphabet=string.ascii_letters + string.digits, min_size=8, max_size=40).map(
    lambda s: "zq" + s + "QZ"
)


@given(
    name=_TEXT,
    port=st.integers(min_value=-(2**40), max_value=2**40),
    ratio=st.floats(allow_nan=False, allow_infinity=False),
    flag=st.booleans(),
    tags=st.lists(st.text(alphabet=string.ascii_letters + "-.", min_size=1, max_size=10), max_size=5),
    token=_SECRETS,
    as_json=st.booleans(),
)
def test_generated_env_round_trips(
    name: str, port: int, ratio: float, flag: bool, tags: list[str], token: str, as_json: bool
) -> None:
    env = {
        **DEV,
        "NAME": name,
        "PORT": str(port),
        "RATIO": repr(ratio),
        "FLAG": "true" if flag else "false",
        "TAGS": json.dumps(tags) if as_json else ",".join(tags),
        "TOKEN": token,
    }
    settings = load_settings(Generated, environ=env)
    assert (settings.name, settings.port, settings.ratio, settings.flag) == (name, port, ratio, flag)
    assert settings.tags == tuple(tags)
    assert settings.token is not None
    assert settings.token.get_secret_value() == token


@given(token=_SECRETS, bad_port=_SECRETS, bad_flag=_SECRETS)
def test_generated_secrets_never_appear_in_error_reports(token: str, bad_port: str, bad_flag: str) -> None:
    env = {"TOKEN": token, "PORT": bad_port, "FLAG": bad_flag, "HARDENING_CORS__MAX_AGE": token}
    try:
        load_settings(Generated, environ=env)
    except ConfigurationError as error:
        text = str(error) + repr(error) + "".join(traceback.format_exception(error))
        text += _report(error).to_json()
        for value in (token, bad_port, bad_flag):
            assert value not in text
        assert "PORT" in text
        assert "FLAG" in text
    else:  # pragma: no cover - the generated values are never valid ports
        pytest.fail("invalid settings loaded")


def test_environ_default_is_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARDENING_ENVIRONMENT", "development")
    monkeypatch.setenv("PORT", "8123")
    assert load_settings(Generated).port == 8123
    assert os.environ["PORT"] == "8123"


def test_non_utf8_secret_file_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "bin"
    secret.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(SecretFileError, match="UTF-8"):
        read_secret_file(secret)
