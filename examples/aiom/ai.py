"""AI summaries: Anthropic's Messages API over HTTP, or an offline stand-in; token cost.

With ``ANTHROPIC_API_KEY`` set, :func:`summarize` calls ``POST /v1/messages`` with httpx
and reads the token usage Anthropic reports. Without it, a small local summarizer
answers and says plainly that it is the offline stand-in (its token counts are
estimates and its cost is zero). Provider failures become problem+json responses
(502, 503 with ``Retry-After``, 504) that never contain the key or the provider's body.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Final

import httpx

from examples.aiom.settings import AIOMSettings
from hardening import Problem, ProblemError

__all__ = ["OFFLINE_MODEL", "Summary", "cost_usd", "offline_summary", "summarize"]

OFFLINE_MODEL: Final = "offline-extractive-v1"
ANTHROPIC_VERSION: Final = "2023-06-01"
_SENTENCE: Final = re.compile(r"(?<=[.!?])\s+")
_WORD: Final = re.compile(r"\w+", re.UNICODE)
_logger = logging.getLogger("aiom.ai")


@dataclass(frozen=True)
class Summary:
    """One summary and what it cost."""

    text: str
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    notice: str | None = None


def cost_usd(settings: AIOMSettings, input_tokens: int, output_tokens: int) -> float:
    """Return the price of a call in US dollars, from the per-million-token prices."""
    return round(
        input_tokens * settings.ai_input_usd_per_mtok / 1e6 + output_tokens * settings.ai_output_usd_per_mtok / 1e6, 6
    )


def _estimate_tokens(text: str) -> int:
    return max(1, round(len(_WORD.findall(text)) * 4 / 3))


def offline_summary(text: str, *, max_sentences: int = 2) -> Summary:
    """Summarize ``text`` locally: its most representative sentences, no network, no cost."""
    sentences = [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()]
    frequency: dict[str, int] = {}
    for word in _WORD.findall(text.lower()):
        if len(word) > 3:
            frequency[word] = frequency.get(word, 0) + 1
    ranked = sorted(
        range(len(sentences)),
        key=lambda i: (
            -sum(frequency.get(w, 0) for w in _WORD.findall(sentences[i].lower()))
            / (1 + len(_WORD.findall(sentences[i]))) ** 0.5
        ),
    )
    chosen = sorted(ranked[:max_sentences])
    summary = " ".join(sentences[i] for i in chosen) or text.strip()[:280]
    return Summary(
        text=summary[:1000],
        provider="offline",
        model=OFFLINE_MODEL,
        input_tokens=_estimate_tokens(text),
        output_tokens=_estimate_tokens(summary),
        cost_usd=0.0,
        notice=(
            "Offline stand-in: ANTHROPIC_API_KEY is not set, so this summary was made locally "
            "by picking representative sentences. No AI model was called and nothing was billed."
        ),
    )


def _problem(status: int, slug: str, title: str, detail: str, headers: dict[str, str] | None = None) -> ProblemError:
    return ProblemError(Problem(status, type=f"urn:aiom:problem:{slug}", title=title, detail=detail), headers=headers)


def _retry_after(response: httpx.Response) -> str:
    value = response.headers.get("retry-after", "")
    return value if value.isdigit() and int(value) <= 3600 else "30"


async def _anthropic(client: httpx.AsyncClient, settings: AIOMSettings, key: str, text: str) -> Summary:
    payload: dict[str, Any] = {
        "model": settings.anthropic_model,
        "max_tokens": settings.ai_max_tokens,
        "system": "You summarize operations notes for an operations manager in at most three sentences.",
        "messages": [{"role": "user", "content": f"Summarize:\n\n{text}"}],
    }
    headers = {"x-api-key": key, "anthropic-version": ANTHROPIC_VERSION, "content-type": "application/json"}
    try:
        response = await client.post(
            f"{settings.anthropic_base_url}/v1/messages", json=payload, headers=headers, timeout=settings.ai_timeout
        )
    except httpx.TimeoutException:
        raise _problem(504, "ai-timeout", "AI provider timed out", "The AI provider did not answer in time.") from None
    except httpx.HTTPError as exc:
        _logger.warning("ai.unreachable: %s", type(exc).__name__)
        detail = "The AI provider could not be reached."
        raise _problem(502, "ai-unreachable", "AI provider unreachable", detail) from None
    if response.status_code in (429, 529) or response.status_code >= 500:
        raise _problem(
            503,
            "ai-busy",
            "AI provider busy",
            f"The AI provider answered {response.status_code}; try again later.",
            {"Retry-After": _retry_after(response)},
        )
    if response.status_code != 200:
        _logger.warning("ai.rejected: status %s", response.status_code)
        raise _problem(502, "ai-rejected", "AI provider rejected the call", "Check the service's AI configuration.")
    try:
        data = response.json()
        summary = "".join(block["text"] for block in data["content"] if block.get("type") == "text").strip()
        usage = data["usage"]
        input_tokens, output_tokens = int(usage["input_tokens"]), int(usage["output_tokens"])
        model = str(data.get("model") or settings.anthropic_model)[:64]
    except (ValueError, KeyError, TypeError):
        detail = "The AI provider's answer was not understood."
        raise _problem(502, "ai-bad-answer", "Unexpected AI answer", detail) from None
    return Summary(
        text=summary,
        provider="anthropic",
        model=model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=cost_usd(settings, input_tokens, output_tokens),
    )


async def summarize(client: httpx.AsyncClient, settings: AIOMSettings, text: str) -> Summary:
    """Summarize ``text`` with Anthropic when a key is configured, else offline.

    Raises:
        ProblemError: The provider failed (502, 503 or 504); the key is never in it.
    """
    if settings.anthropic_api_key is None or not settings.anthropic_api_key.get_secret_value():
        return offline_summary(text)
    return await _anthropic(client, settings, settings.anthropic_api_key.get_secret_value(), text)
