"""The web UI's serving at /ui: redirects, built files, the SPA fallback for deep links,
missing assets, paths that try to leave the build, and an API without a built UI."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.web import ui_serving


def client_for(dist: Path) -> TestClient:
    app = FastAPI()
    ui_serving.install(app, dist)
    return TestClient(app, follow_redirects=False)


def built(tmp_path: Path) -> Path:
    dist = tmp_path / "ui_dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<div id=app></div>")
    (dist / "assets" / "index-abc.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("not for the browser")
    return dist


def test_root_and_ui_redirect_to_the_app(tmp_path: Path) -> None:
    client = client_for(built(tmp_path))
    for path in ("/", "/ui"):
        answer = client.get(path)
        assert answer.status_code == 307
        assert answer.headers["location"] == "/ui/"


def test_deep_links_answer_the_app_and_assets_are_cached_for_good(tmp_path: Path) -> None:
    client = client_for(built(tmp_path))
    for path in ("/ui/", "/ui/executions/abc123", "/ui/no/such/page"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.text == "<div id=app></div>"
        assert answer.headers["cache-control"] == "no-cache"
    asset = client.get("/ui/assets/index-abc.js")
    assert asset.text == "console.log(1)"
    assert "immutable" in asset.headers["cache-control"]


def test_a_missing_asset_is_a_404_not_the_app(tmp_path: Path) -> None:
    answer = client_for(built(tmp_path)).get("/ui/assets/index-old.js")
    assert answer.status_code == 404
    assert "index-old.js" in answer.text


def test_paths_out_of_the_build_get_the_app_not_the_file(tmp_path: Path) -> None:
    client = client_for(built(tmp_path))
    for path in (
        "/ui/../secret.txt",
        "/ui/%2e%2e/secret.txt",
        "/ui/assets/%2e%2e/%2e%2e/secret.txt",
    ):
        answer = client.get(path)
        assert "not for the browser" not in answer.text, path


def test_an_unbuilt_ui_says_how_to_build_it(tmp_path: Path) -> None:
    answer = client_for(tmp_path / "missing").get("/ui/flows")
    assert answer.status_code == 503
    assert "./dev run" in answer.text
