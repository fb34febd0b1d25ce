"""Wallet proof routes (SPEC 4.3): Sign-In with Ethereum for listing a wallet's threads."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from aomi.api.auth import bearer_token
from aomi.api.deps import ServicesDep
from aomi.api.openapi import ERRORS
from aomi.errors import InvalidInput, WalletTokenRequired
from aomi.services import Services
from aomi.timeutil import iso_ms

router = APIRouter(prefix="/api/wallet", tags=["wallet"], responses=ERRORS)


class NonceOut(BaseModel):
    nonce: str = Field(description="Put it in the EIP-4361 message's `Nonce:` line; usable once.")


class VerifyIn(BaseModel):
    message: str = Field(description="The EIP-4361 message the wallet signed, exactly as signed.")
    signature: str = Field(
        pattern=r"^0x([0-9a-fA-F]{128}|[0-9a-fA-F]{130})$",
        description="The wallet's EIP-191 signature of `message`: 0x and 64 or 65 bytes in hex.",
    )


class TokenOut(BaseModel):
    token: str = Field(description="Send as `Authorization: Bearer <token>` to list this wallet's threads.")
    address: str = Field(description="The proven address, EIP-55 checksummed.")
    expires_at: str = Field(description="When the token stops being accepted (ISO-8601 UTC).")


def wallet_domain(request: Request, services: Services) -> str:
    """The domain sign-in messages and tokens are bound to: the setting, else the request's Host."""
    domain = services.settings.wallet_domain or request.headers.get("host")
    if not domain:
        raise InvalidInput("the request has no Host header, and AOMI_WALLET_DOMAIN is not set")
    return domain


def require_wallet_token(request: Request, services: Services, address: str) -> None:
    """Under AOMI_WALLET_PROOF=required: a valid wallet token for ``address`` (401 otherwise)."""
    if services.settings.wallet_proof != "required":
        return
    token = bearer_token(request.headers)
    if not token:
        raise WalletTokenRequired(
            "listing a wallet's threads needs `Authorization: Bearer <wallet token>`: "
            "sign in with POST /api/wallet/nonce and POST /api/wallet/verify"
        )
    services.wallet.check(token, address, wallet_domain(request, services))


@router.post("/nonce")
async def wallet_nonce(services: ServicesDep) -> NonceOut:
    """A fresh single-use nonce for a Sign-In with Ethereum message (see AOMI_WALLET_NONCE_SECONDS)."""
    return NonceOut(nonce=await services.wallet.nonce())


@router.post("/verify")
async def wallet_verify(body: VerifyIn, request: Request, services: ServicesDep) -> TokenOut:
    """Check a signed EIP-4361 message (domain, nonce, signature, times) -> a short-lived wallet token.

    401 `invalid_wallet_proof` for a wrong domain, a bad signature or a used or expired nonce.
    """
    token = await services.wallet.verify(body.message, body.signature, wallet_domain(request, services))
    return TokenOut(token=token.token, address=token.address, expires_at=iso_ms(token.expires_at * 1000))
