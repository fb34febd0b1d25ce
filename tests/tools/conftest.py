from tests.support.fixtures import price_api

__all__ = ["price_api"]
