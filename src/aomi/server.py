"""The FastAPI application: services wired in a lifespan, routers, error handlers, `serve`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager

import httpx
import pydantic_ai
import uvicorn
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from aomi import __version__
from aomi.agent.models import ModelRegistry, default_model_registry, report_missing_keys
from aomi.agent.runner import TurnRunner
from aomi.api import admin, chat, control, events, health, provider_keys, secrets, sessions, simulate, wallet
from aomi.api.auth import KEY_HEADER, KEY_HEADER_ALIAS, SESSION_HEADER, Authorizer
from aomi.api.errors import install_error_handlers
from aomi.api.fastpath import StateFastPath
from aomi.api.headers import SecurityHeadersMiddleware
from aomi.api.limits import BodyLimitMiddleware, RequestShapeMiddleware
from aomi.api.openapi import install_openapi
from aomi.api.pages import install_pages
from aomi.api.ratelimit import RateLimitMiddleware, RateLimits
from aomi.api.sessions import NEXT_CURSOR_HEADER
from aomi.apps.registry import AppRegistry, load_registry
from aomi.byok import SEALER_PURPOSE, ProviderKeys, ProviderKeyStore
from aomi.chain.forks import ForkPool
from aomi.chain.kit import ChainKit
from aomi.crypto import Sealer
from aomi.db.engine import create_engine, current_revision, dispose, head_revision, upgrade
from aomi.db.notify import Listener
from aomi.docs.service import Documents
from aomi.docs.store import DocStore
from aomi.keys.store import KeyStore
from aomi.keys.verify import KeyVerifier
from aomi.logs import RequestContextMiddleware
from aomi.metrics import Metrics, MetricsMiddleware
from aomi.secrets import SEALER_PURPOSE as SECRETS_PURPOSE
from aomi.secrets import AppSecrets, ClientSecrets, ClientSecretStore
from aomi.services import Services
from aomi.sessions.bus import EventBus
from aomi.sessions.leases import Leases
from aomi.sessions.manager import SessionManager
from aomi.sessions.service import SessionService
from aomi.sessions.store import SessionStore
from aomi.settings import Settings
from aomi.usage import UsageStore
from aomi.wallet.nonces import NonceStore
from aomi.wallet.proof import WalletProofs

log = logging.getLogger("aomi.server")


async def _maintenance(services: Services) -> None:
    """Lease renewal, orphan recovery and idle eviction, on one timer."""
    settings = services.settings
    interval = min(settings.lease_seconds / 3, 5.0)
    while True:
        await asyncio.sleep(interval)
        try:
            if await current_revision(services.engine) is None:
                # The database came back empty (dropped and recreated): migrate it again.
                log.warning("the database has no schema: applying migrations")
                await upgrade(services.engine)
            manager = services.manager
            running = [s.id for s in manager.running()]
            await manager.leases.renew(running)
            await services.manager.recover_orphans()
            await services.runner.expire_parked()
            await services.secrets.purge_expired()
            services.manager.evict()
        except Exception:
            log.exception("maintenance pass failed; retrying in %.1f s", interval)


def _after_gap(verifier: KeyVerifier, manager: SessionManager) -> None:
    """Notifications may have been missed while listening was down: drop what could be stale."""
    verifier.invalidate(None)
    manager.forget_all()


async def _ingest_documents(apps: AppRegistry, documents: Documents) -> None:
    """Bring every App's stored documents in line with its files (unchanged files are skipped by
    hash). A file that cannot be read is logged; the server starts anyway."""
    for app in apps.all():
        if not app.documents:
            continue
        report = await documents.ingest(app)
        for path, why in report.failed:
            log.warning("App %s: document %s was not ingested: %s", app.name, path, why)
        if report.added or report.replaced or report.removed:
            log.info(
                "App %s: documents ingested: %d added, %d replaced, %d removed, %d unchanged",
                app.name,
                report.added,
                report.replaced,
                report.removed,
                report.unchanged,
            )


def _gauges(app: FastAPI, metrics: Metrics) -> None:
    """Gauges read from the running services when scraped (zero before start-up)."""

    def reading(read: Callable[[Services], float]) -> Callable[[], float]:
        return lambda: read(app.state.services) if hasattr(app.state, "services") else 0.0

    for name, documentation, read in (
        ("aomi_sessions_in_memory", "Sessions cached in memory", lambda s: len(s.manager)),
        ("aomi_turns_running", "Turns running in this process", lambda s: len(s.manager.running())),
        ("aomi_sse_subscribers", "Open /api/updates streams", lambda s: s.manager.bus.subscriber_count()),
        ("aomi_db_connections_in_use", "Database connections checked out", _connections_in_use),
    ):
        metrics.gauge(name, documentation, reading(read))


def _connections_in_use(services: Services) -> float:
    checkedout = getattr(services.engine.sync_engine.pool, "checkedout", None)
    return float(checkedout()) if callable(checkedout) else 0.0


def create_app(settings: Settings | None = None, *, models: ModelRegistry | None = None) -> FastAPI:
    """Build the application. App manifests are loaded here, so a bad one stops start-up at once."""
    settings = settings or Settings()
    pydantic_ai.BANNER_ENABLED = False  # the server's output is the operator's: no first-run banner
    # httpx logs every request URL at INFO, query string included: an HTTP tool's secret could land
    # in the log. Its warnings and errors still show.
    for client_log in ("httpx", "httpx2"):  # httpx2: the copy the provider SDKs bundle
        logging.getLogger(client_log).setLevel(max(logging.WARNING, logging.getLogger(client_log).level))
    models = models or default_model_registry(settings)
    for line in report_missing_keys(models):
        log.warning("%s", line)
    apps = load_registry(settings.apps_dir, models)
    chain = ChainKit.from_settings(settings)  # a malformed AOMI_RPC_URLS stops start-up here
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.resolved_database_url)
        await upgrade(engine)
        secret = settings.resolved_secret_key
        keys = KeyStore(engine, secret)
        verifier = KeyVerifier(
            keys,
            secret,
            settings.key_cache_seconds,
            on_lookup=lambda cached: metrics.key_cache.labels("hit" if cached else "miss").inc(),
        )
        manager = SessionManager(
            SessionStore(engine),
            EventBus(settings.sse_queue_size),
            Leases(engine, uuid.uuid4().hex, settings.lease_seconds),
            cache_size=settings.session_cache_size,
            idle_seconds=settings.session_idle_seconds,
        )
        http = httpx.AsyncClient(timeout=settings.tool_timeout_seconds)
        byok = ProviderKeys(ProviderKeyStore(engine), Sealer(secret, SEALER_PURPOSE))
        client_secrets = ClientSecrets(
            ClientSecretStore(engine), Sealer(secret, SECRETS_PURPOSE), settings.client_secret_seconds
        )
        documents = Documents(DocStore(engine))
        if settings.docs_ingest_on_start:
            await _ingest_documents(apps, documents)
        runner = TurnRunner(
            manager,
            models,
            apps,
            settings,
            http,
            chain,
            provider_keys=byok,
            secrets=AppSecrets(client_secrets),
            documents=documents,
            metrics=metrics,
        )
        forks = ForkPool(chain.chains, settings.anvil_path, settings.simulation_forks)
        services = Services(
            settings,
            engine,
            apps,
            keys,
            verifier,
            Authorizer(apps, verifier, settings.session_access),
            manager,
            runner,
            http,
            WalletProofs(
                NonceStore(engine),
                secret,
                nonce_seconds=settings.wallet_nonce_seconds,
                token_seconds=settings.wallet_token_seconds,
            ),
            SessionService(manager, runner),
            head_revision(),
            provider_keys=byok,
            usage=UsageStore(engine),
            chain=chain,
            forks=forks,
            secrets=client_secrets,
            documents=documents,
            metrics=metrics,
        )
        app.state.services = services
        models.preload()  # provider SDKs import in a thread while the server starts serving
        recovered = await manager.recover_orphans()
        if recovered:
            log.warning("marked %d orphaned turn(s) interrupted", recovered)
        listener: Listener | None = None
        if engine.dialect.name == "postgresql":
            listener = Listener(
                settings.resolved_database_url,
                {"key": verifier.invalidate, "session": manager.remote_change},
                on_gap=lambda: _after_gap(verifier, manager),
            )
            await listener.start()
        maintenance = asyncio.create_task(_maintenance(services))
        verifier.start()  # writes App keys' last_used_at in the background
        try:
            yield
        finally:
            # The maintenance loop keeps renewing the leases of the turns that finish meanwhile.
            await runner.shutdown(settings.shutdown_grace_seconds)
            maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await maintenance
            if listener is not None:
                await listener.aclose()
            await apps.aclose()
            await models.aclose()
            await forks.aclose()
            await chain.aclose()
            await verifier.aclose()
            await http.aclose()
            await rate_limits.aclose()
            await dispose(engine)

    app = FastAPI(
        title="Aomi server",
        version=__version__,
        description="Self-hostable backend for web3 AI assistants.",
        lifespan=lifespan,
        # FastAPI's native OpenTelemetry hooks are unused here (metrics will come with
        # /metrics); switched off they cost nothing per request.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    _gauges(app, metrics)
    # Innermost: the hot read answers from memory, after every check the other middleware makes.
    app.add_middleware(StateFastPath, services=lambda: getattr(app.state, "services", None))
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # inside the others: sees the matched route
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestShapeMiddleware)
    rate_limits = RateLimits(
        settings.rate_limit_per_key,
        settings.rate_limit_per_session,
        settings.resolved_secret_key,
        settings.redis_url,
    )
    app.add_middleware(RateLimitMiddleware, limits=rate_limits)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=[
                SESSION_HEADER,
                KEY_HEADER,
                KEY_HEADER_ALIAS,
                "Last-Event-ID",
                "Content-Type",
                "Authorization",
            ],
            expose_headers=[NEXT_CURSOR_HEADER],
            max_age=600,
        )
    app.add_middleware(SecurityHeadersMiddleware)  # on every answer, errors and preflights too
    app.add_middleware(RequestContextMiddleware)  # outermost: every log line of a request has its ids
    install_error_handlers(app)
    install_openapi(app, {"rig": models.labels()})
    app.include_router(health.router)
    app.include_router(chat.router)
    app.include_router(sessions.router)
    app.include_router(events.router)
    app.include_router(control.router)
    app.include_router(provider_keys.router)
    app.include_router(wallet.router)
    app.include_router(simulate.router)
    app.include_router(secrets.router)
    app.include_router(admin.router)
    install_pages(app)
    return app


def serve(settings: Settings) -> None:
    """Run the server in this process (``aomi serve``)."""
    from aomi.logs import configure_logging, install_access_log_filter

    configure_logging(settings.log_level, settings.log_format)
    # Resolved before uvicorn starts: a bad secret is then one CLI error line, not a startup traceback.
    _ = settings.resolved_secret_key
    install_access_log_filter()
    app = create_app(settings)
    # log_config=None: uvicorn's loggers propagate to the one structured handler.
    # SIGTERM: uvicorn stops accepting and gives open connections (event streams) the grace
    # period; then the lifespan lets running turns end within it and interrupts the rest.
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_seconds)),
        timeout_keep_alive=max(1, round(settings.keep_alive_seconds)),
    )
    _GracefulServer(config).run()


class _GracefulServer(uvicorn.Server):
    """A SIGTERM that shut the server down gracefully ends the process with status 0. (uvicorn
    raises the signal again once it has stopped, so the process would end killed by SIGTERM,
    which orchestrators read as a crash.) SIGINT keeps uvicorn's behaviour."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            try:
                yield
            finally:
                self._captured_signals = [s for s in self._captured_signals if s != signal.SIGTERM]
