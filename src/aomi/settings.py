"""One typed Settings object: every knob of the server, read from ``AOMI_*`` variables."""

from __future__ import annotations

import logging
import os
import secrets
import stat
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from aomi.errors import SecretKeyError

log = logging.getLogger("aomi.settings")

SECRET_FILE_NAME = "aomi-secret.key"
# HMAC-SHA256 keys shorter than its 32-byte output weaken the App key hashes.
MIN_SECRET_BYTES = 32
# The admin token opens every App's keys and sessions: short enough to guess, it is refused.
MIN_ADMIN_TOKEN_CHARS = 24


class Settings(BaseSettings):
    """Server settings. Each field is documented in the README settings table."""

    model_config = SettingsConfigDict(env_prefix="AOMI_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=Path("."),
        description="Directory for the embedded SQLite database and the generated secret key.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL. Default: a SQLite file `aomi.db` in the data directory. "
        "Use `postgresql+asyncpg://user@host:5432/db` for PostgreSQL.",
    )
    apps_dir: Path = Field(
        default=Path("./apps"),
        description="Directory scanned for App manifests at `<apps_dir>/<name>/app.toml`.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Secret for App key hashing (HMAC-SHA256), at least 32 bytes. When unset, one is "
        "generated once and kept in `<data_dir>/aomi-secret.key` (mode 0600, with a warning).",
    )
    host: str = Field(default="127.0.0.1", description="Address `aomi serve` listens on.")
    port: int = Field(default=8080, ge=0, le=65535, description="Port `aomi serve` listens on.")
    price_api_url: str = Field(
        default="https://api.coingecko.com/api/v3",
        description="Base URL of a CoinGecko-compatible price API (used by `get_token_price`).",
    )
    max_message_bytes: int = Field(
        default=32 * 1024, ge=1, description="Largest accepted chat message (UTF-8 bytes); over it: 413."
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1, description="Largest accepted request body; over it: 413."
    )
    session_cache_size: int = Field(
        default=10_000, ge=1, description="Most sessions kept in memory; the least recently used are evicted."
    )
    session_idle_seconds: float = Field(
        default=1800.0,
        gt=0,
        description="A session idle in memory this long is evicted (it stays in the database).",
    )
    key_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How long a verified App key is trusted from memory before the database is asked again "
        "(bounds how late another process's revocation is seen).",
    )
    lease_seconds: float = Field(
        default=15.0,
        gt=0,
        description="A processing session whose owner has not renewed its lease for this long is "
        "considered orphaned (crash) and marked interrupted.",
    )
    stream_flush_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Streamed text in progress is written to the database at least this often.",
    )
    turn_timeout_seconds: float = Field(
        default=300.0,
        gt=0,
        description="Wall-time limit of one agent turn; over it the turn ends in `error`.",
    )
    turn_request_limit: int = Field(
        default=16,
        ge=1,
        description="Most model requests in one agent turn; over it the turn ends in `error`.",
    )
    models: str = Field(
        default="",
        description="Provider models as comma-separated `label=provider:model` entries (providers: "
        "anthropic, openai, google, groq, mistral, openrouter; `label=openai-compatible:model@<base-url>` "
        "for Ollama, "
        "vLLM, llama.cpp or LiteLLM). Keys come from each provider's usual variable (`OPENAI_API_KEY`, ...). "
        "`offline` is always there.",
    )
    models_file: Path | None = Field(
        default=None,
        description="A TOML file with one `[models.<label>]` table per model (provider, model, and "
        "optionally base_url, api_key or api_key_env), for operators with many models.",
    )
    provider_timeout_seconds: float = Field(
        default=60.0, gt=0, description="Time limit of one model request to a provider (connect and read)."
    )
    provider_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Retries of a model request that failed before any answer came back (rate limit, "
        "server error, timeout), with exponential backoff.",
    )
    turn_output_token_limit: int = Field(
        default=16_000,
        ge=1,
        description="Most output tokens the model may produce in one agent turn; over it the turn ends "
        "in `error` (the partial answer is kept).",
    )
    history_token_budget: int = Field(
        default=100_000,
        ge=1_000,
        description="Estimated tokens of conversation history sent with each model request; older whole "
        "turns are left out first (the App's instructions are always sent).",
    )
    title_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Time limit of the model call that titles a session after its first exchange; "
        "on timeout or failure the heuristic title is used.",
    )
    tool_timeout_seconds: float = Field(
        default=20.0, gt=0, description="Time limit of one tool call (for example an HTTP price lookup)."
    )
    sse_keepalive_seconds: float = Field(
        default=15.0,
        gt=0,
        description="A keep-alive comment is sent on idle `/api/updates` streams this often.",
    )
    sse_queue_size: int = Field(
        default=256,
        ge=1,
        description="Events buffered per `/api/updates` subscriber; one that falls further behind "
        "catches up from the database instead of slowing anyone down.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed to call the API (CORS), as a JSON list, e.g. "
        '`["https://app.example.com"]`; `["*"]` allows any. Empty: no CORS headers.',
    )
    session_access: Literal["session-id", "key"] = Field(
        default="session-id",
        description="`session-id`: on an existing session, the read and steering routes accept the "
        "session id as the credential when no App key is presented (SPEC 3, step 7); `key`: every "
        "route on a keyed App's session needs a key covering that App.",
    )
    wallet_proof: Literal["off", "required"] = Field(
        default="off",
        description="`required`: listing threads by wallet (`GET /api/sessions`) needs a wallet token "
        "from Sign-In with Ethereum for that address; `off`: the address alone lists them.",
    )
    wallet_domain: str | None = Field(
        default=None,
        description="The domain a Sign-In with Ethereum message must name. Default: the `Host` "
        "header of the verify request.",
    )
    wallet_nonce_seconds: float = Field(
        default=300.0, gt=0, description="How long a Sign-In with Ethereum nonce stays usable (once)."
    )
    wallet_token_seconds: float = Field(
        default=3600.0, gt=0, description="How long a wallet token from `POST /api/wallet/verify` is valid."
    )
    rpc_urls: str = Field(
        default="",
        description="JSON-RPC endpoints per chain id, comma-separated `chain_id=url` pairs, e.g. "
        "`1=https://eth.example.com,8453=https://base.example.com,31337=http://127.0.0.1:8545`. "
        "Chain tools on a chain without one answer that it is not configured.",
    )
    default_chain_id: int = Field(
        default=1,
        gt=0,
        description="The chain tools use when the session's wallet names none and the user names none.",
    )
    rpc_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Time limit of one JSON-RPC request to a chain."
    )
    ens_registries: str = Field(
        default="",
        description="ENS registry addresses per chain id beyond the built-in ones (the canonical "
        "registry on 1 and 11155111), as `chain_id=address` pairs, e.g. `31337=0x5FbD...`.",
    )
    tokens: str = Field(
        default="",
        description="ERC-20 symbols tools may use beyond the built-in list, as comma-separated "
        "`chain_id:SYMBOL=address` entries, e.g. `31337:TUSD=0x5FbD...`.",
    )
    wallet_request_timeout_seconds: float = Field(
        default=600.0,
        gt=0,
        description="How long a wallet request (a transaction or a typed-data signature) waits for "
        "the wallet's answer; then the agent reports that it expired.",
    )
    receipt_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a resumed turn waits for a confirmed transaction's receipt on chain.",
    )
    anvil_path: str | None = Field(
        default=None,
        description="The Anvil binary `POST /api/simulate` forks chains with. Default: `anvil` from "
        "the project's `node_modules` (npm `@foundry-rs/anvil`), else on `PATH`.",
    )
    simulation_forks: int = Field(
        default=2,
        ge=1,
        description="Most Anvil fork processes kept for `POST /api/simulate` (one per chain, reused; "
        "the least recently used one stops when another chain needs a fork).",
    )
    simulation_max_transactions: int = Field(
        default=20, ge=1, description="Most transactions one `POST /api/simulate` batch may hold."
    )
    client_secret_seconds: float = Field(
        default=86400.0,
        gt=0,
        description="How long a client secret from `POST /api/secrets` is kept; the client ingests it "
        "again after that.",
    )
    rate_limit_per_key: str = Field(
        default="3000/minute",
        description="Requests one App key may make (a moving window: `N/second`, `N/minute`, "
        "`N/hour`, or `off`); over it the answer is 429 with Retry-After.",
    )
    rate_limit_per_session: str = Field(
        default="300/minute",
        description="Requests one session id may take (the client polls `/api/state` twice a second "
        "while a turn runs); `off` to disable.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis for rate limit counters shared by every replica (`redis://host:6379/0`); "
        "unset: each process counts in memory.",
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of the admin API (`/admin/api/...`) and the admin page (`/admin`), at "
        "least 24 characters; unset, both are off (404). App keys never work there.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="When set, `GET /metrics` needs `Authorization: Bearer <token>`; unset, it is open "
        "(keep it off the public internet).",
    )
    docs_ingest_on_start: bool = Field(
        default=True,
        description="Ingest every App's documents when the server starts (unchanged files are skipped "
        "by content hash); `aomi docs ingest` does it by hand.",
    )
    keep_alive_seconds: float = Field(
        default=75.0,
        gt=0,
        description="How long an idle HTTP keep-alive connection stays open. Longer than a load "
        "balancer's idle timeout (60 s on common ones), so the server never closes a connection "
        "the balancer is about to reuse.",
    )
    shutdown_grace_seconds: float = Field(
        default=10.0,
        ge=0,
        description="On SIGTERM, how long running turns (and open event streams) get to end before "
        "they are interrupted; the process then exits 0.",
    )
    log_level: str = Field(
        default="info", description="Log level of `aomi serve` (debug, info, warning, error)."
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="`text`: one readable line per record; `json`: one JSON object per line. Both "
        "carry `request_id` and `session_id` where a request is being served.",
    )

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'aomi.db').resolve()}"

    @field_validator("admin_token")
    @classmethod
    def _admin_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None  # set but empty: off, as unset
        if len(value.get_secret_value()) < MIN_ADMIN_TOKEN_CHARS:
            raise ValueError(
                f"{len(value.get_secret_value())} characters is too short for the admin token; use at "
                f"least {MIN_ADMIN_TOKEN_CHARS} (e.g. the output of `openssl rand -hex 32`)"
            )
        return value

    @field_validator("rate_limit_per_key", "rate_limit_per_session")
    @classmethod
    def _rate(cls, value: str) -> str:
        from aomi.rates import parse_limit

        parse_limit(value)  # ValueError: one line naming the setting, at start-up
        return value

    @cached_property
    def resolved_secret_key(self) -> bytes:
        """The key-hashing secret: configured, or generated once and kept in the data directory.

        Raises `SecretKeyError` for a secret shorter than `MIN_SECRET_BYTES` or a secret file
        that other users may read or write.
        """
        if self.secret_key is not None and self.secret_key.get_secret_value():
            value = self.secret_key.get_secret_value().encode()
            if len(value) < MIN_SECRET_BYTES:
                raise SecretKeyError(
                    f"AOMI_SECRET_KEY is {len(value)} bytes long; it must be at least "
                    f"{MIN_SECRET_BYTES} bytes (e.g. the output of `openssl rand -base64 48`)"
                )
            return value
        path = self.data_dir / SECRET_FILE_NAME
        try:
            return _read_secret_file(path)
        except FileNotFoundError:
            pass
        created = _install_secret_file(path)
        if created is None:  # another process installed its secret first: share that one
            return _read_secret_file(path)
        log.warning(
            "AOMI_SECRET_KEY is not set: generated a secret and kept it in %s. "
            "Set AOMI_SECRET_KEY in production; losing this file invalidates every App key.",
            path,
        )
        return created


def _read_secret_file(path: Path) -> bytes:
    """The secret kept in ``path``; `FileNotFoundError` when there is none yet."""
    with path.open("rb") as f:
        mode = os.fstat(f.fileno()).st_mode
        if mode & 0o077:
            raise SecretKeyError(
                f"the secret file {path} is readable or writable by other users "
                f"(mode {stat.S_IMODE(mode):03o}); run `chmod 600 {path}`"
            )
        value = f.read().strip()
    if len(value) < MIN_SECRET_BYTES:
        raise SecretKeyError(
            f"the secret file {path} holds {len(value)} bytes; a secret must be at least "
            f"{MIN_SECRET_BYTES} bytes (put a longer one in it, or set AOMI_SECRET_KEY)"
        )
    return value


def _install_secret_file(path: Path) -> bytes | None:
    """Generate a secret and install it at ``path``, never readable by others, not even briefly.

    The secret is written and synced to a private temporary file, then hard-linked to ``path``:
    the link either installs a complete file or fails because one exists, so concurrent first
    starts never overwrite each other. Returns None when another process won that race.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48).encode()
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(value + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)
    except FileExistsError:
        return None
    finally:
        tmp.unlink(missing_ok=True)
    return value
