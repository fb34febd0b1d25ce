"""App keys: generation, keyed hashing, storage and cached verification."""

from aomi.keys.generate import display_prefix, generate_key, hash_key
from aomi.keys.store import IssuedKey, KeyRecord, KeyStore
from aomi.keys.verify import KeyVerifier

__all__ = ["IssuedKey", "KeyRecord", "KeyStore", "KeyVerifier", "display_prefix", "generate_key", "hash_key"]
