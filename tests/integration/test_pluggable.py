"""A new metric, plugged in: discovered, backfilled over a demo history, checked against a
direct computation from the events, and answered over HTTP."""

import statistics
from collections import defaultdict

import pytest

from application.demo import load_demo
from projections.engine.catalog import ProjectionConfigError, by_name, discover
from projections.engine.runner import backfill
from projections.engine.tracking import active_tables
from projections.metrics.first_contact import FirstContactLag
from projections.pipeline import PipelineProjection


class Doubled(PipelineProjection):
    name = "doubled_pipeline"


def test_projections_come_from_built_ins_entry_points_and_configuration():
    names = [p.name for p in discover(config="")]
    assert names[:6] == ["pipeline", "org", "kpi", "leads", "accounts", "commissions"]
    assert "first_contact_lag" in names  # registered under the salesledger.projections entry point
    assert "doubled_pipeline" in [p.name for p in discover(config="tests.integration.test_pluggable:Doubled")]
    with pytest.raises(ProjectionConfigError):
        discover(config="tests.integration.test_pluggable")
    with pytest.raises(ProjectionConfigError):
        discover(
            config="tests.integration.test_pluggable:test_projections_come_from_built_ins_entry_points_and_"
            "configuration"
        )
    assert isinstance(by_name("first_contact_lag"), FirstContactLag)


def test_backfill_a_new_metric_over_a_demo_history_equals_a_direct_computation(runtime):
    load_demo(runtime.ledger, seed=5, reps=8, deals=120)
    metric = FirstContactLag()
    done = backfill(runtime.db, runtime.source, metric, limit=200)
    assert done.position == runtime.source.head()
    with runtime.db.read() as tx:
        answer = metric.query(tx, active_tables(tx, metric), {"period": "2026"})

    captured, first = {}, {}
    for r in runtime.source.read(0, 10**6):
        if r.type == "LeadCaptured":
            captured[r.aggregate_id] = (r.event.source, r.event.captured_on)
        elif r.type == "LeadContacted":
            day = r.event.occurred_at.date()
            first[r.aggregate_id] = min(first.get(r.aggregate_id, day), day)
    expected = defaultdict(lambda: [0, []])
    for lead, (source, day) in captured.items():
        if day.year != 2026:  # the demo's history starts in November 2025; the query asks for 2026
            continue
        group = expected[(day.isoformat()[:7], source)]
        group[0] += 1
        if lead in first:
            group[1].append((first[lead] - day).days)
    assert len(answer["rows"]) == len(expected) > 3
    for row in answer["rows"]:
        count, days = expected[(row["month"], row["source"])]
        assert (row["captured"], row["contacted"]) == (count, len(days))
        if days:
            assert float(row["median_days_to_first_contact"]) == statistics.median(days)


def test_the_metric_is_served_over_http(client):
    rep = client.post("/reps", json={"name": "初级", "level": "junior", "team": "t", "region": "华东"}).json()["id"]
    lead = client.post(
        "/leads",
        json={
            "company": "度量公司",
            "source": "online",
            "region": "华东",
            "industry": "retail",
            "captured_on": "2026-11-02",
        },
    ).json()["id"]
    client.post(f"/leads/{lead}/claim", json={"rep_id": rep, "claimed_at": "2026-11-02T01:00:00Z"})
    contact = client.post(
        f"/leads/{lead}/contacts", json={"channel": "call", "outcome": "ok", "occurred_at": "2026-11-05T02:00:00Z"}
    ).json()
    listed = client.get("/metrics").json()
    assert [m["name"] for m in listed] == ["first_contact_lag"] and "median days" in listed[0]["description"]
    answer = client.get(
        "/metrics/first_contact_lag", params={"period": "2026-11", "min_position": contact["position"]}
    ).json()
    assert answer["rows"] == [
        {"month": "2026-11", "source": "online", "captured": 1, "contacted": 1, "median_days_to_first_contact": "3.00"}
    ]
    assert client.get("/metrics/pipeline").status_code == 404
