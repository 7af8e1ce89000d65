"""Invoicing (Stripe-shaped, kept in openhero's own ledger): coupons, customers, products, invoices.

Any valid key may use these operations (openhero: Hero names no scope for invoicing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from openhero.core.auth import PrincipalDep, authenticate
from openhero.core.db import Database
from openhero.core.deps import ClockDep, ReadSessionDep, SessionDep
from openhero.core.pagination import PageDep, PageParams, from_query
from openhero.core.routing import ApiRoute
from openhero.invoicing import invoices, schemas, service
from openhero.invoicing.serializers import coupon_out, customer_out, invoice_out, product_out

router = APIRouter(route_class=ApiRoute, dependencies=[Depends(authenticate)], tags=["Invoicing"])

ANY_KEY = " Any valid key (openhero: Hero names no scope for invoicing)."
PAGED = " Paged like every list (`page_index`, `page_size`: default 20, max 100); `count` is the total."


async def _database(request: Request) -> Database:
    return request.app.state.db


# For the GETs that sometimes store something (the product catalogue catching up with the appointment
# types, a patient's first default payer): they read as usual and write in a short transaction of their own.
DatabaseDep = Annotated[Database, Depends(_database)]


@router.get("/v1/invoicing/coupons", operation_id="listCoupons", response_model=schemas.CouponListResponse,
            summary="List the Stripe coupons available to the calling practice group.",
            description="Valid coupons only, ordered by name. `id` is the code to send in an invoice's "
                        "`coupons`; `amount_off` is in pence, `percent_off` a percentage; `applies_to` "
                        "`{\"products\": [\"prod_…\"]}` limits a coupon to those products' lines." + PAGED + ANY_KEY)
async def list_coupons(session: ReadSessionDep, principal: PrincipalDep, page: PageDep) -> schemas.CouponListResponse:
    rows, count = await service.list_coupons(session, principal, page)
    return schemas.CouponListResponse(data=[coupon_out(c) for c in rows], count=count)


@from_query
async def _customer_search(page: PageDep, query: Annotated[str, Query(max_length=200)]) -> tuple[PageParams, str]:
    return page, query


@router.get("/v1/invoicing/customers", operation_id="listCustomers",
            response_model=schemas.StripeCustomerListResponse,
            summary="Search the practice group's Stripe customers with a free-text query.",
            description="`query` matches name, email or phone (case-insensitive substring) or a `cus_…` id "
                        "exactly; an empty query lists every customer. Ordered by name." + PAGED + ANY_KEY)
async def list_customers(session: ReadSessionDep, principal: PrincipalDep,
                         params: Annotated[tuple[PageParams, str], Depends(_customer_search)]
                         ) -> schemas.StripeCustomerListResponse:
    page, query = params
    rows, count = await service.search_customers(session, principal, query, page)
    return schemas.StripeCustomerListResponse(data=[customer_out(c) for c in rows], count=count)


@router.post("/v1/invoicing/customers", operation_id="createCustomer", response_model=schemas.StripeCustomer,
             summary="Create a new Stripe customer under the calling practice group.",
             description="openhero: answers 200 with the StripeCustomer (`id` `cus_…`), as Get Default Customer "
                         "shows it. `sources` are stored as given (no card network here); a source without "
                         "an `id` gets a `card_…` id, which an invoice's `payment_source` can name. A customer "
                         "is a billpayer and need not be a patient; link one to a patient with an invoice's "
                         "`customer_stripe_id` + `set_default_customer`." + ANY_KEY)
async def create_customer(body: schemas.CreateCustomerRequest, session: SessionDep, principal: PrincipalDep,
                          clock: ClockDep) -> schemas.StripeCustomer:
    return customer_out(await service.create_customer(session, principal, body, now=clock.now()))


@from_query
async def _patient_id(patient_id: Annotated[str | None, Query()] = None) -> str | None:
    return patient_id


@router.get("/v1/invoicing/customers/default", operation_id="getDefaultCustomer",
            response_model=schemas.StripeCustomer,
            summary="Return the Stripe customer that is set as the default payer for a patient.",
            description="openhero: `patient_id` is required in practice (missing → 400). The default is the "
                        "customer most recently set with `set_default_customer`; a patient with none is their "
                        "own billpayer: a customer is made from their name, email and mobile the first time "
                        "and kept as the default. Another practice group's patient is 404." + ANY_KEY)
async def get_default_customer(session: ReadSessionDep, db: DatabaseDep, principal: PrincipalDep, clock: ClockDep,
                               patient_id: Annotated[str | None, Depends(_patient_id)]) -> schemas.StripeCustomer:
    return customer_out(await service.get_default_customer(session, db, principal, patient_id, clock.now()))


@router.post("/v1/invoicing/invoices", operation_id="createInvoice", status_code=201,
             response_model=schemas.InvoiceOut,
             responses={201: {"description": "Created"},
                        400: {"description": "Bad request (validation failure)",
                              "model": schemas.HeroErrorResponse}},
             summary="Raise a Stripe invoice for a patient (directly or via an appointment), as a draft or "
                     "finalized.",
             description="issuer_id must be the Admin ID of the person raising the invoice. One of patient_id "
                         "or appointment_id must be supplied; with appointment_id the patient, practitioner and "
                         "service date are taken from the appointment. Invoice items come from List Products "
                         "(`price` or `product`; `unit_amount` pence or `unit_amount_in_pounds` overrides the "
                         "price), or are ad hoc (`description` + amount; `create: true` also saves them as a "
                         "product). openhero: without `customer_stripe_id` the patient's default payer is "
                         "billed. Coupons apply in order, each to what is left of its lines (percent rounded "
                         "half up per line; amount_off up to the lines' remainder). `mode` draft (default) or "
                         "finalize: finalizing numbers the invoice, sets due_date to 30 days for "
                         "request_payment, and — as Stripe does — a zero total or charge_automatically is "
                         "paid at once. Amounts are pence. Unknown or another group's ids (issuer, patient, "
                         "appointment, practitioner, customer, product, coupon) are 404; malformed input 400."
                         + ANY_KEY)
async def create_invoice(body: schemas.CreateInvoiceRequest, session: SessionDep, principal: PrincipalDep,
                         clock: ClockDep) -> schemas.InvoiceOut:
    invoice = await invoices.create_invoice(session, principal, body, clock.now())
    return await invoice_out(session, invoice)


@router.patch("/v1/invoicing/invoices/{id}", operation_id="updateInvoice", response_model=schemas.InvoiceOut,
              summary="Change an existing invoice; drafts are fully editable, finalized invoices only in memo, "
                      "footer and coupons.",
              description="issuer_id (the Admin making the change) is required; only the fields sent change, "
                          "and a field resent with its current value is no change. `id` is the invoice id or "
                          "its `in_…` id. `null` for a reference or list (patient_id, appointment_id, items, "
                          "coupons…) leaves it as is; `set_default_customer: true` makes the payer the patient's "
                          "default in any status. "
                          "Drafts: every field (sent `invoice_items_attributes` replace the "
                          "lines; an item's `stripe_id` keeps an existing line's `ii_…` id). Open: memo, footer "
                          "and coupons (amount_due recomputed). Paid, void, uncollectible: memo and footer only "
                          "(openhero: coupons would rewrite a settled amount). Anything else → 409 "
                          "`invoice_not_editable`. `mode: finalize` finalizes a draft (no-op once finalized); "
                          "openhero adds `status` to move a finalized invoice as Stripe allows: open → paid | "
                          "void | uncollectible, uncollectible → paid | void; other moves → 409 "
                          "`invalid_status_transition`. Answers the Invoice as Create does." + ANY_KEY)
async def update_invoice(id: str, body: schemas.UpdateInvoiceRequest, session: SessionDep,
                         principal: PrincipalDep, clock: ClockDep) -> schemas.InvoiceOut:
    invoice = await invoices.update_invoice(session, principal, id, body, clock.now())
    return await invoice_out(session, invoice)


@router.get("/v1/invoicing/products", operation_id="listProducts", response_model=schemas.ProductListResponse,
            summary="List the Stripe products/prices that can be used as invoice items.",
            description="openhero: Hero's page was not seen. Active products ordered by name, as "
                        "`{data, count}`: each with `id` (`prod_…`, an item's `product`), `price` (`price_…`, "
                        "an item's `price`), `unit_amount` (pence) and `unit_amount_in_pounds`. Every paid "
                        "appointment type with a price is a product, kept in step with the type (a new price "
                        "mints a new `price_…`; the old one stops being accepted, as an archived Stripe price)."
                        " Products saved with an item's `create: true` are listed too." + PAGED + ANY_KEY)
async def list_products(session: ReadSessionDep, db: DatabaseDep, principal: PrincipalDep, page: PageDep,
                        clock: ClockDep) -> schemas.ProductListResponse:
    rows, count = await service.list_products(session, db, principal, page, clock.now())
    return schemas.ProductListResponse(data=[product_out(p) for p in rows], count=count)
