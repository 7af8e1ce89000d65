"""``/docs`` (Swagger UI) and ``/redoc`` served with assets from the installed package
``fastapi-standalone-docs`` (MIT; it ships Swagger UI 5 and ReDoc 2 with their licences), so the
interactive docs work on an isolated network: no CDN."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"


def install_docs(app: FastAPI) -> None:
    static = files("fastapi_standalone_docs") / "static"
    app.mount(ASSETS, StaticFiles(directory=str(static)), name="docs-assets")
    title = app.title

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{title} – Swagger UI",
                                   swagger_js_url=f"{ASSETS}/swagger/swagger-ui-bundle.js",
                                   swagger_css_url=f"{ASSETS}/swagger/swagger-ui.css",
                                   swagger_favicon_url=f"{ASSETS}/fastapi/favicon.png")

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{title} – ReDoc",
                              redoc_js_url=f"{ASSETS}/redoc/redoc.standalone.js",
                              redoc_favicon_url=f"{ASSETS}/fastapi/favicon.png", with_google_fonts=False)
