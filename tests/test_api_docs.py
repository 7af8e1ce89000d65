"""/docs and /redoc load their assets from this server (packaged), never from a CDN."""

from __future__ import annotations

import re


async def test_docs_pages_use_local_assets(client):
    for path in ("/docs", "/redoc"):
        page = await client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        urls = re.findall(r'(?:src|href)="([^"]+)"', page.text) + re.findall(r"url: '([^']+)'", page.text)
        assert urls and all(u.startswith("/") for u in urls), urls
        for url in urls:
            if url.startswith("/docs-assets/"):
                asset = await client.get(url)
                assert asset.status_code == 200 and len(asset.content) > 1000, url
    assert "fastapi.tiangolo.com" not in (await client.get("/docs")).text
