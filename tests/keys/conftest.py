import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from aomi.keys.store import KeyStore
from tests.conftest import TEST_SECRET

SECRET = TEST_SECRET.encode()


@pytest.fixture
def store(engine: AsyncEngine) -> KeyStore:
    return KeyStore(engine, SECRET)
