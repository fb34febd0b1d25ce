from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from aomi.agent.models import ModelRegistry, default_model_registry
from aomi.settings import Settings
from tests.support.fixtures import price_api
from tests.support.harness import Harness, SlowModel, running, write_app
from tests.support.price_server import FakePriceApi

__all__ = ["price_api"]


@pytest.fixture
def slow() -> SlowModel:
    return SlowModel()


@pytest.fixture
def api_settings(settings: Settings, price_api: FakePriceApi) -> Settings:
    write_app(settings.apps_dir, "mycoindex")
    write_app(settings.apps_dir, "other")
    write_app(settings.apps_dir, "slowapp", models=("slow", "offline"))
    write_app(settings.apps_dir, "openapp", public=True)
    return settings.model_copy(update={"price_api_url": price_api.url})


@pytest.fixture
def models(slow: SlowModel) -> ModelRegistry:
    registry = default_model_registry()
    registry.register("slow", slow.model)
    return registry


@pytest_asyncio.fixture
async def server(api_settings: Settings, models: ModelRegistry) -> AsyncIterator[Harness]:
    async with running(api_settings, models) as harness:
        yield harness
