"""Shared fixtures; import them into a conftest.py (`from tests.support.fixtures import price_api`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic_ai.models import override_allow_model_requests

from tests.support.price_server import FakePriceApi, run_price_server
from tests.support.providers import FakeProvider, fake_provider

DEFAULT_PRICES: dict[str, float] = {
    "ethereum": 3456.78,
    "bitcoin": 97123.5,
    "usd-coin": 0.99987,
    "shiba-inu": 0.0000123456,
}


@pytest.fixture
def price_api() -> Iterator[FakePriceApi]:
    """A running fake CoinGecko with `DEFAULT_PRICES`; tweak `.prices`, `.fail`, `.delay`."""
    with run_price_server(DEFAULT_PRICES) as api:
        yield api


@pytest.fixture
def allow_model_requests() -> Iterator[None]:
    """Provider models may send requests during the test (to loopback fakes: nothing else exists)."""
    with override_allow_model_requests(True):
        yield


@pytest.fixture
def fake(allow_model_requests: None) -> Iterator[FakeProvider]:
    """A running scripted fake LLM provider (OpenAI, Anthropic and Gemini wires) on loopback."""
    with fake_provider() as provider:
        yield provider
