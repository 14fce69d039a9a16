"""The web dashboard (SPEC §8): server-rendered pages over the same services as the API.

`install(app)` adds the pages at `/` and their assets at `/static` (served by the app
itself: no CDN, works offline). Charts are inline SVG drawn in Python; the only scripts
are the audit page's, which verify the checkpoint signature and the consistency and
inclusion proofs in the browser (`static/merkle.js`, `consistency.js`, `proof.js`).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from dronedeal.api.web.routes import HERE, compile_templates, router


def install(app: FastAPI) -> None:
    """Serve the dashboard pages and their static assets from `app` (the templates
    compiled before the first request)."""
    compile_templates()
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
