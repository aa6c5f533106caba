r"""Secret files (``VAR_FILE`` indirection, secrets directories) and secret registration.

Docker and Kubernetes mount secrets as files; the convention (used by the official
Postgres and MySQL images) is ``POSTGRES_PASSWORD_FILE=/run/secrets/pg``. The settings
loader honours ``<VAR>_FILE`` for every variable, and files named after the variable in
a secrets directory. A secret file is read safely:

* it must resolve (symlinks followed) to a regular file *inside* its secrets directory
  (the configured ``secrets_dir``, or the directory the path names); a symlink that
  leaves it is refused (compare GHSA-4xgf-cpjx-pc3j in pydantic-settings);
* it must be at most :data:`DEFAULT_MAX_SECRET_FILE_SIZE` bytes;
* one trailing newline (``\\n`` or ``\\r\\n``) is stripped, as ``echo`` adds one.

Every secret value loaded is registered with :func:`hardening.redaction.register_secret`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretBytes, SecretStr

from hardening.redaction import register_secret

__all__ = (
    "DEFAULT_MAX_SECRET_FILE_SIZE",
    "SecretFileError",
    "read_secret_file",
    "register_model_secrets",
    "register_value",
    "secret_text",
)

DEFAULT_MAX_SECRET_FILE_SIZE: Final = 64 * 1024
"""The largest secret file read, in bytes (64 KiB: room for a certificate chain)."""


class SecretFileError(Exception):
    """A secret file could not be used. The message never contains file content."""


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def read_secret_file(
    path: str | os.PathLike[str],
    *,
    secrets_dirs: Iterable[str | os.PathLike[str]] = (),
    max_size: int = DEFAULT_MAX_SECRET_FILE_SIZE,
) -> str:
    """Read one secret file safely and return its text without the trailing newline.

    Args:
        path: The file, absolute or relative to the working directory.
        secrets_dirs: Directories the file must resolve inside. When empty, the
            directory that contains ``path`` is the boundary.
        max_size: The largest accepted size in bytes.

    Raises:
        SecretFileError: The file is missing, not a regular file, outside the
            secrets directory, too large, or not UTF-8.
    """
    given = Path(path).absolute()
    roots = [Path(item).resolve() for item in secrets_dirs] or [given.parent.resolve()]
    try:
        real = given.resolve(strict=True)
    except (OSError, RuntimeError):
        msg = "the file does not exist or cannot be resolved"
        raise SecretFileError(msg) from None
    if not any(_inside(real, root) for root in roots):
        msg = "the file resolves outside its secrets directory (a symlink leaves it); refused"
        raise SecretFileError(msg)
    try:
        info = real.stat()
    except OSError:
        msg = "the file cannot be read (permission denied?)"
        raise SecretFileError(msg) from None
    if not stat.S_ISREG(info.st_mode):
        msg = "not a regular file"
        raise SecretFileError(msg)
    try:
        with real.open("rb") as handle:
            data = handle.read(max_size + 1)  # one byte more tells a file over the limit
    except OSError:
        msg = "the file cannot be read (permission denied?)"
        raise SecretFileError(msg) from None
    if len(data) > max_size:
        msg = f"the file is larger than the {max_size}-byte limit"
        raise SecretFileError(msg)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        msg = "the file is not UTF-8 text"
        raise SecretFileError(msg) from None
    if text.endswith("\r\n"):
        return text[:-2]
    return text.removesuffix("\n")


def secret_text(value: object) -> str | None:
    """The text a ``SecretStr`` or ``SecretBytes`` holds (bytes decoded as UTF-8); ``None`` for other values."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, SecretBytes):
        return value.get_secret_value().decode("utf-8", "replace")
    return None


def register_value(value: object, *, secret: bool) -> None:
    """Register ``value`` for redaction when it is secret, and any URL password in it."""
    held = secret_text(value)
    if held is not None:
        value, secret = held, True
    if not isinstance(value, str):
        text = str(value) if value is not None and "://" in str(value) else None
        if text is None:
            return
        value = text
    if secret:
        register_secret(value)
    if "://" in value and "@" in value:
        try:
            password = urlsplit(value).password
        except ValueError:
            return
        if password:
            register_secret(password)


def register_model_secrets(model: BaseModel) -> None:
    """Register every secret held by ``model`` (recursively) with the redaction policy.

    ``SecretStr``/``SecretBytes`` values and passwords inside URLs are registered.
    Plain strings are not, even under a sensitive name: registering ordinary words
    would mask them everywhere (the production rules flag such fields instead).
    """
    _register(model, 0)


_MAX_DEPTH: Final = 16


def _register(value: Any, depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, BaseModel):
        items: Iterable[Any] = (getattr(value, name, None) for name in type(value).model_fields)
    elif isinstance(value, dict):
        items = value.values()
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = value
    else:
        register_value(value, secret=False)
        return
    for item in items:
        _register(item, depth + 1)
