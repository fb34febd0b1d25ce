"""Batch simulation (SPEC 4.5): `POST /api/simulate`, the client's `simulateBatch`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from aomi.api.auth import SESSION_HEADER, session_id_from
from aomi.api.deps import ServicesDep, app_param, json_body, session_of
from aomi.api.openapi import APP, APP_KEY, ERRORS, SESSION_ID, inputs
from aomi.chain.abi import coerce
from aomi.chain.addresses import parse_chain_id
from aomi.chain.simulate import parse_transaction, simulate
from aomi.errors import InvalidInput, InvalidTransaction, InvalidUserState

router = APIRouter(prefix="/api", tags=["simulate"], responses=ERRORS)


class TransactionIn(BaseModel):
    to: str = Field(description="The recipient or contract, 0x address.")
    value: str | int | None = Field(
        default=None, description="Wei: an integer, a decimal or a 0x hex string."
    )
    data: str | None = Field(default=None, description="Calldata as hex; default none.")
    label: str | None = Field(default=None, description="Shown in the step; default `Transaction <n>`.")
    chain_id: int | str | None = Field(default=None, description="Must match the batch's chain when given.")


class SimulateIn(BaseModel):
    transactions: list[TransactionIn] = Field(description="Run in this order, each seeing the ones before.")
    from_: str | None = Field(
        default=None, alias="from", description="The sender; default: the session's wallet."
    )
    chain_id: int | str | None = Field(
        default=None, description="Default: the session's chain, else the server's."
    )


class StepOut(BaseModel):
    step: int
    label: str
    success: bool
    result: str | None = Field(description="The call's return data (hex), when it succeeded.")
    revert_reason: str | None
    gas_used: int | None
    tx: dict[str, str] = Field(description="`{to, value_wei, value_eth, data}`.")


class SimulationOut(BaseModel):
    batch_success: bool
    stateful: bool
    from_: str = Field(alias="from")
    network: str | None
    total_gas: int
    steps: list[StepOut]


class SimulateOut(BaseModel):
    result: SimulationOut


def _chain(value: object, what: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return parse_chain_id(value)
    except InvalidUserState as exc:
        raise InvalidInput(f"{what}: {exc.message}") from None


@router.post(
    "/simulate",
    response_model=SimulateOut,
    openapi_extra=inputs(SESSION_ID, APP_KEY, APP, body=SimulateIn, required=True),
)
async def simulate_batch(request: Request, services: ServicesDep) -> JSONResponse:
    """Simulate a batch of transactions on a fork of the chain, in order; nothing reaches the chain.

    Needs the App key like chat. `from` and `chain_id` default to the session's wallet and chain
    (`X-Session-Id`, when given).
    """
    # Authorized like chat (SPEC 3); only the session's wallet and chain are used here.
    app = app_param(request)
    s = None
    if request.headers.get(SESSION_HEADER) is not None:
        _, s = await session_of(services, request, session_id_from(request.headers), app)
    else:
        await services.auth.authorize(app, request.headers)
    body = await json_body(request)
    raw = body.get("transactions")
    limit = services.settings.simulation_max_transactions
    if not isinstance(raw, list) or not raw:
        raise InvalidTransaction("transactions must be a non-empty list of {to, value, data, label}")
    if len(raw) > limit:
        raise InvalidTransaction(f"a batch may hold at most {limit} transactions; this one has {len(raw)}")
    chains = services.chain.chains
    chain_id = chains.chain_for(_chain(body.get("chain_id"), "chain_id"), s.chain_id if s else None)
    txs = []
    for i, item in enumerate(raw):
        tx_chain = _chain(
            item.get("chain_id") if isinstance(item, dict) else None, f"transactions[{i}].chain_id"
        )
        if tx_chain is not None and tx_chain != chain_id:
            raise InvalidTransaction(
                f"transactions[{i}] is for chain {tx_chain}, the batch for chain {chain_id}: "
                "simulate one chain at a time"
            )
        txs.append(parse_transaction(item, i))
    sender_raw = body.get("from") or (s.wallet_address if s else None)
    if not sender_raw:
        raise InvalidTransaction("from is required: the session has no wallet to simulate as")
    try:
        sender = str(coerce("address", sender_raw, "from"))
    except InvalidInput as exc:
        raise InvalidTransaction(exc.message) from None
    result: dict[str, Any] = await simulate(services.forks, chain_id, sender, txs)
    return JSONResponse(result)
