"""Wallet proof (SPEC 4.3): Sign-In with Ethereum gives a short-lived token bound to one address.

``POST /api/wallet/nonce`` hands out a nonce; the wallet signs an EIP-4361 message naming it and
the server's domain; ``POST /api/wallet/verify`` checks the message and signature (the ``siwe``
package, EIP-191 recovery by eth-account), uses the nonce up and returns a token signed by the
server (HS256, key derived from the server secret) that names the address, the domain and the nonce.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import jwt

from aomi.chain.addresses import normalize_address
from aomi.errors import WalletProofInvalid, WalletTokenInvalid
from aomi.wallet.nonces import NonceStore

if TYPE_CHECKING:
    from siwe import SiweMessage

_TOKEN_KEY_LABEL = b"aomi wallet token v1"
_ALGORITHM = "HS256"


@dataclass(frozen=True)
class WalletToken:
    token: str
    address: str
    expires_at: int  # seconds since the epoch


def _checked_message(message: str, signature: str, domain: str) -> SiweMessage:
    """Parse and verify an EIP-4361 message (CPU work: run it in a thread)."""
    from siwe import SiweMessage, VerificationError  # imports web3: loaded on first use only

    try:
        parsed = SiweMessage.from_message(message)
    except Exception as exc:  # the parser raises several kinds; all mean a malformed message
        detail = f": {exc}" if str(exc) else ""
        raise WalletProofInvalid(
            f"message is not an EIP-4361 (Sign-In with Ethereum) message{detail}"
        ) from None
    if parsed.domain != domain:
        raise WalletProofInvalid(f"the message is for the domain {parsed.domain!r}; sign one for {domain!r}")
    try:
        parsed.verify(signature, domain=domain)
    except VerificationError as exc:
        reason = type(exc).__name__
        raise WalletProofInvalid(f"the signed message does not verify ({reason})") from None
    return parsed


class WalletProofs:
    def __init__(
        self, nonces: NonceStore, secret: bytes, *, nonce_seconds: float, token_seconds: float
    ) -> None:
        self._nonces = nonces
        self._key = hmac.new(secret, _TOKEN_KEY_LABEL, hashlib.sha256).digest()
        self._nonce_ms = int(nonce_seconds * 1000)
        self._token_seconds = token_seconds

    async def nonce(self) -> str:
        return await self._nonces.issue(self._nonce_ms)

    async def verify(self, message: str, signature: str, domain: str) -> WalletToken:
        """A token for the message's address; the message's nonce is used up."""
        parsed = await asyncio.to_thread(_checked_message, message, signature, domain)
        if not await self._nonces.consume(parsed.nonce):
            raise WalletProofInvalid(
                "the message's nonce is unknown, used or expired: get a new one from POST /api/wallet/nonce"
            )
        expires_at = int(time.time() + self._token_seconds)
        return self.sign_token(parsed.address, domain, parsed.nonce, expires_at)

    def sign_token(self, address: str, domain: str, nonce: str, expires_at: int) -> WalletToken:
        claims = {"sub": address, "dom": domain, "nonce": nonce, "iat": int(time.time()), "exp": expires_at}
        return WalletToken(jwt.encode(claims, self._key, algorithm=_ALGORITHM), address, expires_at)

    def check(self, token: str, address: str, domain: str) -> None:
        """The token must be valid, unexpired, for this address and this domain."""
        try:
            claims = jwt.decode(
                token, self._key, algorithms=[_ALGORITHM], options={"require": ["exp", "sub", "dom"]}
            )
        except jwt.ExpiredSignatureError:
            raise WalletTokenInvalid("the wallet token has expired: sign in again") from None
        except jwt.InvalidTokenError:
            raise WalletTokenInvalid("the wallet token is not one this server issued") from None
        if claims["dom"] != domain:
            raise WalletTokenInvalid(f"the wallet token was issued for another domain than {domain!r}")
        if normalize_address(claims["sub"]) != address:
            raise WalletTokenInvalid("the wallet token is for another address than public_key")
