"""The session server serves the JavaScript client at a stable URL."""

from __future__ import annotations

import httpx

from session_server.settings import SessionSettings
from session_server.web import STATIC_DIR
from tests.session_server.conftest import RunningServer, free_port


def test_client_module_is_served() -> None:
    srv = RunningServer(SessionSettings(_env_file=None, port=free_port(), token_secret="x" * 20)).start()  # type: ignore[call-arg]
    try:
        res = httpx.get(srv.http + "/static/phygital-client.js")
        assert res.status_code == 200
        assert "javascript" in res.headers["content-type"]
        assert res.content == (STATIC_DIR / "phygital-client.js").read_bytes()
        assert "export class SessionClient" in res.text
        assert httpx.get(srv.http + "/static/nope.js").status_code == 404
    finally:
        srv.stop()
