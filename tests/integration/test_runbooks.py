"""The receiver serves docs/runbooks/*.md as HTML at /runbooks/<AlertName>; names are checked,
raw HTML is shown as text, and unsafe links are not links."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from receiver.web import runbooks
from tests.support import REPO


def test_every_runbook_is_served_as_html(client: FlaskClient) -> None:
    names = sorted(p.stem for p in (REPO / "docs" / "runbooks").glob("*.md"))
    assert "GlobalGuardDailyLossLimit" in names
    for name in names:
        response = client.get(f"/runbooks/{name}")
        assert response.status_code == 200, name
        assert response.mimetype == "text/html"
        page = response.get_data(as_text=True)
        assert "<h2>Meaning</h2>" in page or name == "Watchdog", name
        assert f"<title>{name} · d76 runbook</title>" in page


@pytest.mark.parametrize(
    "name",
    ["NoSuchAlert", "..%2F..%2FREADME", "../RUNBOOK", "%2Fetc%2Fpasswd", "Watchdog.md", "a" * 300],
)
def test_unknown_or_malformed_names_are_404_json(client: FlaskClient, name: str) -> None:
    response = client.get(f"/runbooks/{name}")
    assert response.status_code == 404
    body = json.loads(response.get_data(as_text=True))
    assert body["error"]["code"] == "not_found"


def test_raw_html_and_script_links_are_not_rendered(tmp_path: Path) -> None:
    (tmp_path / "Evil.md").write_text(
        "# Evil\n\n<script>alert(1)</script>\n\n[click](javascript:alert(1)) "
        "[next](Other.md) [doc](https://example.org/x)\n"
    )
    (tmp_path / "not-a-name.md").write_text("# skipped\n")
    app = Flask(__name__)
    runbooks.init_app(app, tmp_path)
    assert set(app.extensions["d76.runbooks"]) == {"Evil"}
    response = app.test_client().get("/runbooks/Evil")
    page = response.get_data(as_text=True)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'href="javascript:' not in page
    assert 'href="Other"' in page  # a sibling runbook opens its page
    assert 'href="https://example.org/x"' in page
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
