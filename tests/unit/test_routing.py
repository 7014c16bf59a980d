"""`api.routing.Router`: a router turns away paths none of its routes can match, and nothing
else changes (matches, 405s, slash redirects, routes that begin with a path parameter)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from api.routing import Router


def _app() -> tuple[FastAPI, Router, Router, Router]:
    leads, reads, anything = Router(prefix="/leads"), Router(), Router()

    @leads.post("")
    def capture() -> dict:
        return {"at": "capture"}

    @leads.get("/{lead_id}")
    def lead(lead_id: str) -> dict:
        return {"at": "lead", "id": lead_id}

    @reads.get("/pipeline")
    def pipeline() -> dict:
        return {"at": "pipeline"}

    @reads.get("/kpis/")
    def kpis() -> dict:
        return {"at": "kpis"}

    @anything.get("/{page}")
    def page(page: str) -> dict:
        return {"at": "page", "page": page}

    app = FastAPI()
    for router in (leads, reads, anything):
        app.include_router(router)
    return app, leads, reads, anything


def test_requests_reach_the_same_routes_as_before():
    app, *_ = _app()
    client = TestClient(app)
    assert client.post("/leads").json() == {"at": "capture"}
    assert client.get("/leads/L-1").json() == {"at": "lead", "id": "L-1"}
    assert client.get("/pipeline").json() == {"at": "pipeline"}
    assert client.get("/kpis/").json() == {"at": "kpis"}
    redirect = client.get("/leads/L-1/", follow_redirects=False)  # FastAPI's slash redirect
    assert (redirect.status_code, redirect.headers["location"]) == (307, "http://testserver/leads/L-1")
    assert client.delete("/leads").status_code == 405  # a path that matches with another method
    assert client.get("/elsewhere").json() == {"at": "page", "page": "elsewhere"}  # the catch-all router


def test_a_router_rejects_other_first_segments_without_trying_its_routes(monkeypatch):
    app, leads, reads, anything = _app()
    tried: list[APIRouter] = []
    original = APIRouter.matches

    def spy(router: APIRouter, scope: dict):
        tried.append(router)
        return original(router, scope)

    monkeypatch.setattr(APIRouter, "matches", spy)
    client = TestClient(app)
    assert client.get("/pipeline").json() == {"at": "pipeline"}
    assert leads not in tried and reads in tried
    tried.clear()
    assert client.get("/leadsx").json() == {"at": "page", "page": "leadsx"}
    assert tried == [anything]  # the catch-all router's routes may begin with anything: it is tried
    assert leads._first_segments() == frozenset({"leads"})
    assert reads._first_segments() == frozenset({"pipeline", "kpis"})
    assert anything._first_segments() is None


def test_routes_added_later_are_seen():
    app, leads, reads, _ = _app()
    client = TestClient(app)
    assert client.get("/pipeline").status_code == 200

    @reads.get("/late")
    def late() -> dict:
        return {"at": "late"}

    assert client.get("/late").json() == {"at": "late"}
    # a router that includes another knows no segments of its own: it never rejects
    leads.include_router(Router(prefix="/anywhere"))
    assert leads._first_segments() is None
