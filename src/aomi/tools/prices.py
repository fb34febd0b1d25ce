"""`get_token_price`: the USD price of a token from a CoinGecko-compatible API."""

from __future__ import annotations

import asyncio
import math
import re

import httpx
from pydantic_ai import RunContext, ToolFailed

from aomi.agent.deps import TurnDeps

# Symbols and common names -> CoinGecko ids. Models pass whatever the user wrote.
_IDS_BY_ALIAS: dict[str, str] = {
    "eth": "ethereum",
    "ether": "ethereum",
    "ethereum": "ethereum",
    "btc": "bitcoin",
    "bitcoin": "bitcoin",
    "xbt": "bitcoin",
    "usdc": "usd-coin",
    "usdt": "tether",
    "tether": "tether",
    "sol": "solana",
    "solana": "solana",
    "dai": "dai",
    "weth": "weth",
    "wbtc": "wrapped-bitcoin",
    "arb": "arbitrum",
    "arbitrum": "arbitrum",
    "op": "optimism",
    "optimism": "optimism",
    "matic": "matic-network",
    "polygon": "matic-network",
    "pol": "polygon-ecosystem-token",
    "bnb": "binancecoin",
    "link": "chainlink",
    "chainlink": "chainlink",
    "uni": "uniswap",
    "uniswap": "uniswap",
    "aave": "aave",
    "mkr": "maker",
    "ldo": "lido-dao",
    "steth": "staked-ether",
    "doge": "dogecoin",
    "dogecoin": "dogecoin",
    "avax": "avalanche-2",
    "crv": "curve-dao-token",
    "pepe": "pepe",
    "shib": "shiba-inu",
}

# The label shown in answers for a known id, so "ether" and "ethereum" both read "ETH".
_SYMBOLS_BY_ID: dict[str, str] = {
    "ethereum": "ETH",
    "bitcoin": "BTC",
    "usd-coin": "USDC",
    "tether": "USDT",
    "solana": "SOL",
    "dai": "DAI",
    "weth": "WETH",
    "wrapped-bitcoin": "WBTC",
    "arbitrum": "ARB",
    "optimism": "OP",
    "matic-network": "MATIC",
    "polygon-ecosystem-token": "POL",
    "binancecoin": "BNB",
    "chainlink": "LINK",
    "uniswap": "UNI",
    "aave": "AAVE",
    "maker": "MKR",
    "lido-dao": "LDO",
    "staked-ether": "stETH",
    "dogecoin": "DOGE",
    "avalanche-2": "AVAX",
    "curve-dao-token": "CRV",
    "pepe": "PEPE",
    "shiba-inu": "SHIB",
}


def coingecko_id(symbol: str) -> str:
    """The CoinGecko id for a symbol or name; an unknown one is taken to be an id already."""
    key = symbol.strip().lower()
    return _IDS_BY_ALIAS.get(key, re.sub(r"\s+", "-", key))


def display_symbol(symbol: str, coin_id: str) -> str:
    return _SYMBOLS_BY_ID.get(coin_id, symbol.strip().upper())


def format_usd(price: float) -> str:
    """Dollars with thousands separators; prices under $1 keep four significant digits."""
    if price >= 1 or price <= 0:
        return f"${price:,.2f}"
    decimals = 3 - math.floor(math.log10(price))
    return f"${price:.{decimals}f}"


async def get_token_price(ctx: RunContext[TurnDeps], symbol: str) -> str:
    """Look up the current USD price of a crypto token.

    Args:
        symbol: The token symbol or name, for example "ETH", "bitcoin" or "USDC".
    """
    if not symbol.strip():
        raise ToolFailed("no token symbol given")
    settings = ctx.deps.settings
    coin_id = coingecko_id(symbol)
    label = display_symbol(symbol, coin_id)
    url = f"{settings.price_api_url.rstrip('/')}/simple/price"
    timeout = settings.tool_timeout_seconds
    try:
        # httpx's timeout bounds each read; asyncio.timeout bounds the whole call.
        async with asyncio.timeout(timeout):
            response = await ctx.deps.http.get(
                url, params={"ids": coin_id, "vs_currencies": "usd"}, timeout=timeout
            )
    except (TimeoutError, httpx.TimeoutException):
        raise ToolFailed(f"price API timed out after {timeout:g}s") from None
    except httpx.HTTPError as exc:
        raise ToolFailed(f"price API unreachable: {exc or type(exc).__name__}") from None
    if response.status_code != 200:
        raise ToolFailed(f"price API answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise ToolFailed("price API sent an answer that is not JSON") from None
    entry = body.get(coin_id) if isinstance(body, dict) else None
    price = entry.get("usd") if isinstance(entry, dict) else None
    # bool is an int subclass: exclude it so `true` is not read as $1.00.
    if not isinstance(price, int | float) or isinstance(price, bool):
        # Name the id too when it differs: that is what to fix when an alias is missing.
        looked_up = "" if coin_id == symbol.strip().lower() else f" (looked up as '{coin_id}')"
        raise ToolFailed(f"no price found for '{symbol.strip()}'{looked_up}")
    return f"{label} price: {format_usd(float(price))} USD"
