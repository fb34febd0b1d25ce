"""The chain-facts MCP server: `python mcp_server.py` speaks MCP over stdio;
`python mcp_server.py --http PORT` over streamable HTTP at http://127.0.0.1:PORT/mcp."""

import sys

from fastmcp import FastMCP

server = FastMCP("chain-facts")

GAS = {"transfer": 21_000, "erc20_transfer": 65_000, "swap": 150_000, "nft_mint": 120_000}
BLOCK_SECONDS = {"ethereum": 12.0, "base": 2.0, "arbitrum": 0.25, "optimism": 2.0, "polygon": 2.0}
calls = {"count": 0}


@server.tool
def typical_gas(action: str) -> int:
    """Typical gas use of an action: transfer, erc20_transfer, swap or nft_mint."""
    calls["count"] += 1
    if action not in GAS:
        raise ValueError(f"unknown action {action!r}; known: {', '.join(GAS)}")
    return GAS[action]


@server.tool
def block_time(chain: str) -> float:
    """Average seconds between blocks on a chain (ethereum, base, arbitrum, optimism, polygon)."""
    calls["count"] += 1
    if chain.lower() not in BLOCK_SECONDS:
        raise ValueError(f"unknown chain {chain!r}; known: {', '.join(BLOCK_SECONDS)}")
    return BLOCK_SECONDS[chain.lower()]


@server.tool
def reset_stats() -> str:
    """Reset the call counter (an admin tool the App does not offer)."""
    calls["count"] = 0
    return "reset"


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        server.run(
            transport="http", host="127.0.0.1", port=int(sys.argv[2]), show_banner=False, log_level="warning"
        )
    else:
        server.run(show_banner=False, log_level="warning")
