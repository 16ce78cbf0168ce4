"""GE Data Docs without network (lakeqa.ge.offline): after a checkpoint the pages reference no remote file,
and headless Chromium with DNS off renders them from their own folder — bootstrap-table builds its tables,
Bootstrap styles the page, Vega is there — with every request a file:// (or inline data:) one. A negative control shows
the monitor sees the CDN requests of a page left as GE wrote it.

Needs Chromium (skipped without it; CI installs it) and the npm packages of great_expectations/offline
(`make setup` installs them with npm; skipped without them, saying so)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lakeqa.ge import offline, run_ge_checkpoint

from .test_report_browser import CHROMIUM, devtools, evaluate, open_page  # noqa: F401 - devtools is a fixture

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium); CI installs it"),
    pytest.mark.skipif(not offline.available(), reason=f"{offline.NODE_MODULES} is not installed (make setup, with npm)"),
]  # fmt: skip


@pytest.fixture(scope="module")
def data_docs(faulted_lake_build, tmp_path_factory) -> Path:
    output_root = tmp_path_factory.mktemp("ge_offline")
    result = run_ge_checkpoint(faulted_lake_build.paths.duckdb_path, "2024-08-09", output_root)
    return Path(result["data_docs_index"]).parent


def test_the_pages_reference_no_remote_file(data_docs: Path):
    assert offline.remote_references(data_docs) == {}
    pages = list(data_docs.rglob("*.html"))
    assert len(pages) > 5
    for rel in offline.CDN_FILES.values():
        assert (data_docs / offline.VENDOR / rel).is_file(), rel
    assert (data_docs / offline.LOCAL_LOGO).is_file()
    assert list((data_docs / offline.VENDOR).rglob("fa-solid-900.woff2")), "Font Awesome's fonts were not copied"


def _rendered(dt, session) -> dict:
    return evaluate(dt, session, """({
        jquery: typeof window.jQuery === 'function',
        bootstrapTable: !!(window.jQuery && jQuery.fn.bootstrapTable),
        vegaEmbed: typeof window.vegaEmbed === 'function',
        tables: document.querySelectorAll('.bootstrap-table').length,
        navbarDisplay: getComputedStyle(document.querySelector('nav.navbar')).display,
    })""")  # fmt: skip


@pytest.mark.parametrize("page", ["index.html", "validations"])
def test_chromium_renders_them_with_no_network_request(data_docs: Path, devtools, page: str):  # noqa: F811
    path = data_docs / page if page.endswith(".html") else next((data_docs / page).rglob("*.html"))
    session, requests = open_page(devtools, path.as_uri())
    local = ("file://", "data:")  # the pages' own files, and images inlined in a stylesheet
    assert requests and all(url.startswith(local) for url in requests), [u for u in requests if not u.startswith(local)]
    assert any("/static/vendor/jquery/" in url for url in requests)
    seen = _rendered(devtools, session)
    assert seen["jquery"] and seen["bootstrapTable"] and seen["vegaEmbed"], seen
    assert seen["navbarDisplay"] == "flex", "Bootstrap's stylesheet did not apply"
    if page == "index.html":
        assert seen["tables"] >= 1, "bootstrap-table did not build the index's table"


def test_the_monitor_sees_the_cdn_requests_of_a_page_as_ge_wrote_it(data_docs: Path, devtools, tmp_path):  # noqa: F811
    original = tmp_path / "index.html"
    text = (data_docs / "index.html").read_text()
    for url, rel in offline.CDN_FILES.items():
        text = text.replace(f'"{(offline.VENDOR / rel).as_posix()}"', f'"{url}"')
    original.write_text(text)
    shutil.copytree(data_docs / "static", tmp_path / "static")
    session, requests = open_page(devtools, original.as_uri())
    assert any(url.startswith("https://code.jquery.com/") for url in requests), requests
    assert not _rendered(devtools, session)["jquery"]
