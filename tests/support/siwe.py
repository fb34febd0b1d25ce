"""Sign-In with Ethereum messages and their signatures, for the wallet proof tests."""

from __future__ import annotations

from typing import Any

from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from siwe import SiweMessage

from aomi.timeutil import iso_ms, now_ms

DOMAIN = "aomi.test"  # the Host of the in-process test client


def siwe_text(account: LocalAccount, nonce: str, domain: str = DOMAIN, **fields: Any) -> str:
    message = SiweMessage(
        domain=domain,
        address=account.address,
        uri=f"https://{domain}/login",
        version="1",
        chain_id=1,
        issued_at=iso_ms(now_ms()),
        nonce=nonce,
        statement="List my Aomi threads.",
        **fields,
    )
    return str(message.prepare_message())


def sign(account: LocalAccount, text: str) -> str:
    return str(account.sign_message(encode_defunct(text=text)).signature.to_0x_hex())
