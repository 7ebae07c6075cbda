"""The REST API's request metrics: by route template and status, over real ASGI requests."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, HTTPException

from llmgenie.core import telemetry
from llmgenie.interfaces.api.metrics import UNMATCHED, RequestMetrics


def _count(method: str, route: str, status: str) -> float:
    labels = {"method": method, "route": route, "status": status}
    return (
        telemetry.REGISTRY.get_sample_value("llmgenie_api_request_duration_seconds_count", labels)
        or 0.0
    )


@pytest.fixture
def client() -> httpx.AsyncClient:
    app = FastAPI()
    app.add_middleware(RequestMetrics)

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        if thing_id == "missing":
            raise HTTPException(404, "no such thing")
        if thing_id == "broken":
            raise RuntimeError("a bug")
        return {"id": thing_id}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://api")


async def test_requests_are_labelled_by_route_template_and_status(
    client: httpx.AsyncClient,
) -> None:
    keys = [
        ("GET", "/things/{thing_id}", "200"),
        ("GET", "/things/{thing_id}", "404"),
        ("GET", "/things/{thing_id}", "500"),
        ("GET", UNMATCHED, "404"),
        ("OTHER", "/things/{thing_id}", "405"),  # the path matched, the method did not
    ]
    before = {key: _count(*key) for key in keys}
    async with client:
        assert (await client.get("/things/a")).status_code == 200
        assert (await client.get("/things/b")).status_code == 200
        assert (await client.get("/things/missing")).status_code == 404
        assert (await client.get("/things/broken")).status_code == 500
        assert (await client.get("/no/such/path")).status_code == 404
        assert (await client.request("BREW", "/things/a")).status_code == 405
    added = {key: _count(*key) - before[key] for key in keys}
    assert added == {keys[0]: 2, keys[1]: 1, keys[2]: 1, keys[3]: 1, keys[4]: 1}
    text = telemetry.render().decode()
    assert 'route="/things/a"' not in text  # never the path a client sent
