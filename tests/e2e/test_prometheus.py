"""Prometheus metrics at /prometheus: request latency per route template, commands by outcome,
projection lag and state; admin only."""

from tests.helpers import bearer


def test_prometheus_metrics_per_route_template_and_projection(client):
    rep = client.post("/reps", json={"name": "甲", "level": "senior", "team": "T", "region": "R"}).json()
    assert client.get(f"/reps/{rep['id']}").status_code == 200
    assert client.post("/reps", json={"name": ""}).status_code == 422
    answer = client.get("/prometheus")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    assert (
        'salesledger_http_request_duration_seconds_count{method="GET",route="/reps/{record_id}",status="200"}' in text
    )
    assert 'salesledger_commands_total{outcome="ok",route="/reps"}' in text
    assert 'salesledger_commands_total{outcome="refused",route="/reps"}' in text
    assert 'salesledger_projection_lag_events{projection="pipeline"}' in text
    assert 'salesledger_projection_state{projection="org",state=' in text
    assert rep["id"] not in text  # route templates, never raw paths
    rep_key = bearer(client, "rep", rep["id"])
    assert client.get("/prometheus", headers=rep_key).status_code == 403
