"""The FastAPI application: routers per resource, JSON errors, request ids, and (by default)
the projectors running inside the server process."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from api import auth, errors, idempotency, observability, ui
from api.access import require_policies
from api.deps import reject_unknown_query_params
from api.limits import MAX_BODY_BYTES, BodyLimit
from api.routers import (
    access_keys,
    assessments,
    commissions,
    customers,
    deals,
    development,
    events,
    fx,
    health,
    imports,
    leads,
    metrics,
    partners,
    payouts,
    performance,
    reads,
    reps,
    sales_process,
    targets,
)
from application import clock
from domain.values import set_base_currency
from infrastructure.runtime import Runtime
from infrastructure.settings import Settings


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the app. Pass `runtime` to share one already started (tests, embedding)."""
    settings = settings or Settings.from_env()
    clock.configure(settings.timezone)
    set_base_currency(settings.base_currency)  # read models convert into it

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if runtime is not None:
            app.state.runtime = runtime
            yield
            return
        rt = Runtime(
            settings.database(),
            run_projectors=settings.run_projectors,
            timetable=settings.timetable() if settings.run_projectors and settings.run_scheduled_checks else None,
        ).start()
        app.state.runtime = rt
        try:
            yield
        finally:
            rt.close()

    app = FastAPI(
        title="salesledger",
        version="0.1.0",
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query_params)],
        description="Event-sourced sales organisation: leads, customers, deals, targets and "
        "commissions, with read models you can replay.",
    )
    app.state.settings = settings
    if runtime is not None:
        app.state.runtime = runtime

    # Pure ASGI middleware, innermost first (each added one wraps the ones before it).
    app.add_middleware(idempotency.Idempotency)
    app.add_middleware(auth.Authenticate)  # runs before idempotency: keys are remembered per caller
    app.add_middleware(observability.RequestId)
    app.add_middleware(observability.Timing)  # times each request under its route template
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)  # outermost: counts the body as it streams in
    errors.install(app)
    for module in (
        health,
        reps,
        customers,
        leads,
        deals,
        sales_process,
        targets,
        reads,
        performance,
        commissions,
        payouts,
        metrics,
        events,
        access_keys,
        imports,
        partners,
        fx,
        development,
        assessments,
        observability,
    ):
        app.include_router(module.router, responses={} if module is health else errors.ERROR_RESPONSES)
    _document_bearer_auth(app)
    ui.install(app)  # the dashboard at /ui/: pages built from this API, called with the caller's key
    require_policies(app)  # every route declares who may call it: refuse to start otherwise
    return app


def _document_bearer_auth(app: FastAPI) -> None:
    """Declare `Authorization: Bearer <key>` in the OpenAPI document (the docs' Authorize button)."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        commissions.document_plan_body(schema)
        schema["components"].setdefault("securitySchemes", {})["bearer"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "SALESLEDGER_ADMIN_TOKEN or a key minted with POST /auth/keys",
        }
        for path, operations in schema["paths"].items():
            for operation in operations.values():
                if path not in auth.PUBLIC_PATHS:
                    operation["security"] = [{"bearer": []}]
        return schema

    app.openapi = openapi
