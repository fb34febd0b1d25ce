"""Domain errors. Each carries an HTTP status and a stable snake_case code; `api/errors.py`
renders every one of them as ``{"error": {"code", "message"}}``."""

from __future__ import annotations


class AomiError(Exception):
    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(AomiError):
    status, code = 400, "invalid_input"


class MissingSessionId(AomiError):
    status, code = 400, "missing_session_id"


class InvalidSessionId(AomiError):
    status, code = 400, "invalid_session_id"


class ConflictingKeys(AomiError):
    status, code = 400, "conflicting_keys"


class InvalidUserState(AomiError):
    status, code = 400, "invalid_user_state"


class InvalidAddress(AomiError):
    status, code = 400, "invalid_address"


class KeyInvalid(AomiError):
    status, code = 401, "invalid_app_key"


class KeyRequired(AomiError):
    status, code = 401, "app_key_required"


class KeyNotAuthorized(AomiError):
    status, code = 403, "app_key_not_authorized"


class SessionForbidden(AomiError):
    status, code = 403, "session_forbidden"


class AppNotFound(AomiError):
    status, code = 404, "app_not_found"


class SessionNotFound(AomiError):
    status, code = 404, "session_not_found"


class SessionBusy(AomiError):
    status, code = 409, "session_busy"


class PayloadTooLarge(AomiError):
    status, code = 413, "payload_too_large"


class UnknownModel(AomiError):
    status, code = 400, "unknown_model"


class UnknownChain(AomiError):
    status, code = 400, "unknown_chain"


class InvalidTransaction(AomiError):
    status, code = 400, "invalid_transaction"


class ChainUnavailable(AomiError):
    """The chain's RPC failed or did not answer: the caller's request was fine, a dependency was not."""

    status, code = 424, "chain_unavailable"


class SimulationUnavailable(AomiError):
    status, code = 424, "simulation_unavailable"


class MetricsTokenInvalid(AomiError):
    status, code = 401, "metrics_token_invalid"


class AdminTokenInvalid(AomiError):
    status, code = 401, "admin_token_invalid"


class AdminDisabled(AomiError):
    """The admin API and page are off: no admin token is configured."""

    status, code = 404, "not_found"


class MissingSecret(AomiError):
    status, code = 400, "missing_secret"


class ManifestError(Exception):
    """An App manifest is invalid; the message names the file and the field."""


class KeyNotFound(AomiError):
    """No key matches the given id, prefix or key string."""

    status, code = 404, "key_not_found"


class WalletProofInvalid(AomiError):
    status, code = 401, "invalid_wallet_proof"


class WalletTokenRequired(AomiError):
    status, code = 401, "wallet_token_required"


class WalletTokenInvalid(AomiError):
    status, code = 401, "invalid_wallet_token"


class HeadersTooLarge(AomiError):
    status, code = 431, "headers_too_large"


class DatabaseUnavailable(AomiError):
    status, code = 503, "database_unavailable"


class SecretKeyError(Exception):
    """The key-hashing secret is unusable (too short, or its file is open to other users)."""


class ChainConfigError(Exception):
    """`AOMI_RPC_URLS`, `AOMI_ENS_REGISTRIES` or `AOMI_TOKENS` is malformed; the message names it."""


class ModelConfigError(Exception):
    """`AOMI_MODELS` or `AOMI_MODELS_FILE` is malformed; the message names the entry and the fix."""
