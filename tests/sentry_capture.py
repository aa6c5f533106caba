"""An in-memory Sentry transport for tests (import only where ``sentry_sdk`` is installed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

__all__ = ("CaptureTransport", "capture")


class CaptureTransport(Transport):
    """Keeps every envelope the SDK sends."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def payload(self) -> bytes:
        """Everything sent, serialized."""
        return b"".join(envelope.serialize() for envelope in self.envelopes)

    def items(self, kind: str) -> list[dict[str, Any]]:
        """The JSON payloads of the items of ``kind`` sent so far (``event``, ``transaction``)."""
        sentry_sdk.flush()
        return [
            item.payload.json
            for env in self.envelopes
            for item in env.items
            if item.type == kind and item.payload.json is not None
        ]

    def events(self) -> list[dict[str, Any]]:
        """The error events sent so far."""
        return self.items("event")


def capture() -> Iterator[CaptureTransport]:
    """Yield a capture transport and shut the SDK down afterwards (the body of a fixture)."""
    fake = CaptureTransport()
    yield fake
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)
