"""The web UI at /ui: the single-page app built from ui/ (./dev builds it into ui_dist/).

Every path under /ui that is not a built file answers the app's index.html, so a deep link
(/ui/executions/<id>) opens the page it names; the app's router shows a not-found page for
paths it does not know. Built assets carry a content hash in their names: cached for good.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

log = logging.getLogger(__name__)

UI_DIST = Path(__file__).resolve().parent / "ui_dist"
UI_PREFIX = "/ui"

NOT_BUILT = """<!doctype html><html><head><meta charset="utf-8"><title>Lanner</title></head>
<body><h1>The web UI is not built</h1>
<p>Build it with <code>./dev run</code> (or <code>./dev test</code>), which runs
<code>npm ci</code> and <code>npm run build</code> in <code>ui/</code> into
<code>api/web/ui_dist/</code>. The REST API is at <a href="/docs">/docs</a>.</p>
</body></html>"""


def built_file(dist: Path, path: str) -> Path | None:
    """The built file at `path`, or None (also for paths that leave `dist`)."""
    if not path:
        return None
    candidate = (dist / path).resolve()
    if not candidate.is_relative_to(dist.resolve()) or not candidate.is_file():
        return None
    return candidate


def install(app: FastAPI, dist: Path = UI_DIST) -> None:
    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{UI_PREFIX}/", status_code=307)

    @app.get(UI_PREFIX, include_in_schema=False)
    def ui_root() -> RedirectResponse:
        return RedirectResponse(f"{UI_PREFIX}/", status_code=307)

    @app.get(UI_PREFIX + "/{path:path}", include_in_schema=False)
    def ui_page(path: str) -> Response:
        found = built_file(dist, path)
        if found is not None:
            immutable = path.startswith("assets/")
            cache = "public, max-age=31536000, immutable" if immutable else "no-cache"
            return FileResponse(found, headers={"cache-control": cache})
        if path.startswith("assets/"):
            # A missing asset is a 404, not the app: a stale page must not load HTML as JS.
            return Response(f"no built UI asset {path}", status_code=404, media_type="text/plain")
        index = dist / "index.html"
        if not index.is_file():
            log.warning("web UI requested but not built", extra={"dist": str(dist), "path": path})
            return HTMLResponse(NOT_BUILT, status_code=503)
        return FileResponse(index, headers={"cache-control": "no-cache"})
