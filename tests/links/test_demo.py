"""The demo links open for a patient."""

from __future__ import annotations

from openhero.links.demo import seed_demo_links
from tests.forms.builders import make_demo_forms
from tests.links.browser import Browser


async def test_demo_links_open(app, clean, world, patient, clock):
    await make_demo_forms(clean, world.tenant.id, clock.now())
    async with clean.session() as s:
        links = await seed_demo_links(s, world.tenant.id, clock.now())
        await s.commit()
        assert await seed_demo_links(s, world.tenant.id, clock.now()) == []  # seeded once
    kinds = [(type(link).__name__, link.patient_id) for link in links]
    assert kinds == [("BookingLink", None), ("BookingLink", patient.id), ("FormLink", None)]
    async with Browser(app) as visitor:
        pages = [await visitor.get(f"/{'f' if kind == 'FormLink' else 'l'}/{link.code}")
                 for link, (kind, _) in zip(links, kinds, strict=True)]
    assert [p.status_code for p in pages] == [200, 200, 200]
    assert "Tell us who you are" in pages[0].text and "What is your date of birth?" in pages[1].text
