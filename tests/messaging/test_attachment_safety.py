"""Attachment links over real HTTP: the bytes decide the type (never the name), only PDF/PNG/JPEG render
inline, every answer carries nosniff and a sandboxing CSP, names are safe and non-ASCII names download."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from openhero.messaging.models import AttachmentLink

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF"
HTML = b"<html><script>fetch('/v1/me')</script></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.fixture
async def http(live_server: str, tenant: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server, headers=tenant.headers, timeout=30) as c:
        yield c


async def upload(http: httpx.AsyncClient, data: bytes, name: str | None = None, *, declared: str | None = None
                 ) -> httpx.Response:
    encoded = base64.b64encode(data).decode()
    body: dict[str, Any] = {"file_data": f"data:{declared};base64,{encoded}" if declared else encoded}
    if name is not None:
        body["file_name"] = name
    return await http.post("/v1/attachment_links", json=body)


async def fetch(http: httpx.AsyncClient, data: bytes, name: str | None = None, **kw: Any) -> httpx.Response:
    r = await upload(http, data, name, **kw)
    assert r.status_code == 200, r.text
    return await http.get(f"/attachments/{r.json()['attachment_uuid']}", headers={"x-api-key": ""})


def assert_locked_down(r: httpx.Response) -> None:
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"] == "sandbox; default-src 'none'"
    assert r.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("data", "name", "declared"),
    [(HTML, "letter.html", None), (SVG, "x.svg", None), (HTML, "results.pdf", None), (SVG, "scan.png", None),
     (HTML, "page", "text/html"), (HTML, "x.htm", "application/pdf"), (b"GIF89a...", "a.gif", None),
     (b"plain text", "notes.txt", "text/plain")],
)
async def test_anything_but_pdf_png_jpeg_is_a_download(http, clean, data, name, declared):
    r = await fetch(http, data, name, declared=declared)
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert_locked_down(r)


@pytest.mark.parametrize(
    ("data", "name", "media_type"),
    [(PDF, "letter.pdf", "application/pdf"), (PNG, "scan.png", "image/png"), (JPEG, "photo.jpg", "image/jpeg"),
     # The name never decides: PDF bytes under an .html name are still a PDF.
     (PDF, "letter.html", "application/pdf"), (JPEG, None, "image/jpeg")],
)
async def test_pdf_png_jpeg_render_inline_by_their_bytes(http, clean, data, name, media_type):
    r = await fetch(http, data, name)
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == media_type
    assert r.headers["content-disposition"].startswith("inline;")
    assert_locked_down(r)


@pytest.mark.parametrize("name", ["a\nb.pdf", "a\r\nSet-Cookie: x=1.pdf", "tab\t.pdf", "bell\x07.pdf",
                                  "del\x7f.pdf", "c1\x85.pdf", "report\u202efdp.exe", "nul\x00.pdf"])
async def test_file_names_with_control_characters_are_refused(http, clean, name):
    r = await upload(http, PDF, name)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] is True and body["statusCode"] == 400 and body["message"][0]["path"] == ["file_name"]


def disposition_names(header: str) -> tuple[str, str | None]:
    """(filename, decoded filename*) as an RFC 6266 client reads them."""
    params = dict(p.strip().split("=", 1) for p in header.split(";")[1:])
    star = params.get("filename*")
    decoded = unquote(star.split("''", 1)[1], encoding="utf-8") if star else None
    return params["filename"].strip('"'), decoded


@pytest.mark.parametrize(
    ("name", "fallback"),
    [("Überweisung – Brief.pdf", "Uberweisung _ Brief.pdf"), ("日本語.pdf", "attachment.pdf"),
     ("résumé \"final\".pdf", "resume _final_.pdf"), ("emoji 🩺.pdf", "emoji _.pdf")],
)
async def test_non_ascii_names_download_with_rfc6266_filename_star(http, clean, name, fallback):
    r = await fetch(http, PDF, name)
    assert r.status_code == 200
    plain, star = disposition_names(r.headers["content-disposition"])
    assert plain == fallback and plain.isascii()
    assert star == name
    assert_locked_down(r)


async def test_stored_names_with_control_characters_are_neutralised(http, clean, tenant, clock):
    """Rows written before names were checked still download, with the controls removed."""
    async with clean.session() as s:
        link = AttachmentLink(practice_group_id=tenant.id, file_name="evil\r\nX-Injected: 1/../a\u202e.html",
                              data=HTML, content_type="text/html", created_at=clock.now(), updated_at=clock.now())
        s.add(link)
        await s.commit()
        uuid = link.uuid
    r = await http.get(f"/attachments/{uuid}")
    assert r.status_code == 200 and "x-injected" not in r.headers
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"] == 'attachment; filename="evilX-Injected_ 1_.._a.html"; ' \
        "filename*=UTF-8''evilX-Injected%3A%201_.._a.html"
    assert_locked_down(r)


async def test_ehr_file_links_answer_plain_text_locked_down(http, clean, tenant, clock):
    async with clean.session() as s:
        link = AttachmentLink(practice_group_id=tenant.id, file_name="<b>letter</b>.pdf", ehr_file_id="1",
                              created_at=clock.now(), updated_at=clock.now())
        s.add(link)
        await s.commit()
        uuid = link.uuid
    r = await http.get(f"/attachments/{uuid}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert_locked_down(r)


async def test_a_full_10_mb_file_fits_the_body_cap_and_more_is_refused(http, clean):
    """The body cap (10 MB by default) is on the file: its base64 form (4/3 bigger) still fits."""
    from openhero.messaging.attachments import MAX_FILE_BYTES

    data = PDF + b"\0" * (MAX_FILE_BYTES - len(PDF))
    r = await fetch(http, data, "big.pdf")
    assert r.status_code == 200 and len(r.content) == MAX_FILE_BYTES
    over = await upload(http, data + b"\0", "big.pdf")
    assert over.status_code == 400 and over.json()["message"][0]["path"] == ["file_data"]
    way_over = await http.post("/v1/attachment_links", content=b"x" * (MAX_FILE_BYTES * 4 // 3 + 70 * 1024),
                               headers={"content-type": "application/json"})
    assert way_over.status_code == 413 and way_over.json()["statusCode"] == 413
