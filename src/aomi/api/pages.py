"""The people-facing pages: the playground at `/` and the admin page at `/admin`.

Static HTML, CSS and JavaScript shipped inside the package (``aomi/web/static``); nothing is built.
Each page gets a Content-Security-Policy that lets it load its own files and call this server's
API, and nothing else (no inline script, no third-party origin)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from aomi.api.deps import ServicesDep
from aomi.errors import AdminDisabled

STATIC_DIR = Path(str(resources.files("aomi.web") / "static"))

PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_PAGE_HEADERS = {"content-security-policy": PAGE_CSP, "cache-control": "no-cache"}

router = APIRouter(include_in_schema=False)


def _page(name: str) -> Response:
    return FileResponse(STATIC_DIR / name, media_type="text/html", headers=_PAGE_HEADERS)


@router.get("/")
async def playground() -> Response:
    """The playground: pick an App and a model, set a wallet, chat."""
    return _page("playground.html")


@router.get("/admin")
async def admin_page(services: ServicesDep) -> Response:
    """The admin page; absent (404) like the admin API when no admin token is configured."""
    if services.settings.admin_token is None:
        raise AdminDisabled("not found")
    return _page("admin.html")


class _StaticFiles(StaticFiles):
    """The pages' own files, with the pages' policy and revalidation on each load."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(_PAGE_HEADERS)
        return response


def install_pages(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", _StaticFiles(directory=STATIC_DIR), name="static")
