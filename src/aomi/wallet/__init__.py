"""Wallet proof: Sign-In with Ethereum (EIP-4361) nonces and short-lived wallet tokens."""
