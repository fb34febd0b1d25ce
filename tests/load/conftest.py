from tests.e2e.conftest import env, server
from tests.support.fixtures import price_api

__all__ = ["env", "price_api", "server"]
