"""A Python tool of the defi-guide App: what a transaction costs at a given gas price."""

from decimal import Decimal

from aomi.tools.context import ToolContext

NATIVE = {1: "ETH", 10: "ETH", 137: "POL", 8453: "ETH", 42161: "ETH", 11155111: "ETH"}


async def estimate_gas_cost(ctx: ToolContext, gas_units: int, gas_price_gwei: float) -> str:
    """What a transaction costs in the chain's native token.

    Args:
        gas_units: Gas the transaction uses (21000 for a plain transfer).
        gas_price_gwei: Gas price in gwei.
    """
    if gas_units <= 0 or gas_price_gwei < 0:
        raise ValueError("gas_units must be positive and gas_price_gwei not negative")
    chain_id = ctx.deps.chain_id or 1
    wei = Decimal(gas_units) * Decimal(str(gas_price_gwei)) * Decimal(10**9)
    native = wei / Decimal(10**18)
    symbol = NATIVE.get(chain_id, "native token")
    return (
        f"{gas_units} gas at {gas_price_gwei} gwei costs {native.normalize():f} {symbol} on chain {chain_id}"
    )
