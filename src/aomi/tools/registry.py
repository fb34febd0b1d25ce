"""The built-in tools, by the name App manifests use for them."""

from __future__ import annotations

from pydantic_ai import Tool

from aomi.agent.deps import TurnDeps
from aomi.apps.app import App
from aomi.tools.chain import (
    call_view_function,
    encode_function_call,
    get_balance,
    get_chain_context,
    get_token_balance,
    get_token_info,
    resolve_ens,
)
from aomi.tools.docs import search_docs
from aomi.tools.prices import get_token_price
from aomi.tools.wallet import request_typed_data_signature, send_transaction_to_wallet

BUILTIN_TOOLS: dict[str, Tool[TurnDeps]] = {
    fn.__name__: Tool(fn, takes_ctx=True, name=fn.__name__)
    for fn in (
        get_chain_context,
        get_balance,
        get_token_balance,
        get_token_info,
        resolve_ens,
        call_view_function,
        encode_function_call,
        get_token_price,
        send_transaction_to_wallet,
        request_typed_data_signature,
    )
}


SEARCH_DOCS = Tool(search_docs, takes_ctx=True, name="search_docs")


def tools_for(app: App) -> list[Tool[TurnDeps]]:
    """The App's built-in tools, in manifest order, and `search_docs` when it has documents.
    Manifests are validated at load, so every name exists."""
    return [BUILTIN_TOOLS[name] for name in app.tools] + ([SEARCH_DOCS] if app.documents else [])
