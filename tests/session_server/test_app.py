from fastapi import APIRouter
from fastapi.testclient import TestClient

from session_server.server.app import create_app
from session_server.settings import SessionSettings


def test_extra_routers_are_mounted_beside_ws_and_health() -> None:
    router = APIRouter(prefix="/products")

    @router.get("/{sku}")
    def product(sku: str) -> dict[str, str]:
        return {"sku": sku}

    app = create_app(SessionSettings(_env_file=None, token_secret="x" * 16), routers=[router])  # type: ignore[call-arg]
    with TestClient(app) as client:
        assert client.get("/products/SOFA-3").json() == {"sku": "SOFA-3"}
        assert client.get("/health").json()["status"] == "ok"
        paths = {getattr(r, "path", "") for r in app.routes}
        assert {"/ws", "/health"} <= paths


def test_settings_from_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PHYGITAL_SESSION_PORT", "9123")
    monkeypatch.setenv("PHYGITAL_SESSION_LIMITS__MAX_ROOMS", "7")
    monkeypatch.setenv("PHYGITAL_SESSION_OPEN_ROOMS", '["lobby"]')
    s = SessionSettings()
    assert s.port == 9123 and s.limits.to_limits().max_rooms == 7
    assert s.room_open("lobby") and not s.room_open("store-1")
