"""GE Data Docs without network: the scripts and styles GE's pages load from public CDNs are served from
copies beside the pages.

GE 1.24.1 writes each Data Docs page with <script>/<link> tags pointing at code.jquery.com, unpkg.com,
cdnjs, jsdelivr and bootstrapcdn (jQuery, Bootstrap, bootstrap-table, the datepicker, Font Awesome, Vega)
and two images on GE's S3 bucket (one with a tracking query). Offline, or behind a firewall, the pages open
as unstyled text with empty tables. The same files, at the versions GE names, come from the npm registry:
great_expectations/offline/package.json and its lock, installed by `make setup` (npm ci) into
great_expectations/offline/node_modules/. After each Data Docs build, ``make_offline`` copies the files the
pages use into ``<data_docs>/static/vendor/`` and rewrites each URL in the pages and GE's stylesheets to a
relative path. GE's two remote images become its own logo, which it copies into static/images/.

A URL this table does not know (a newer GE) is reported, never left silently: ``remote_references`` lists
what a page would still fetch, and tests/python/test_ge_offline.py fails on any.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

from lakeqa import atomic
from lakeqa.settings import PROJECT_DIR

NODE_MODULES = PROJECT_DIR / "great_expectations" / "offline" / "node_modules"
VENDOR = Path("static") / "vendor"
# each CDN URL GE 1.24.1 writes -> the same file in node_modules
CDN_FILES = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js/dist/umd/popper.min.js",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap/dist/js/bootstrap.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap/dist/css/bootstrap.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table/dist/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table/dist/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
    # GE asks for the filter-control styles of 1.19.0 beside the 1.19.1 scripts: 1.19.1's are served
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker/dist/js/bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker/dist/css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "@fortawesome/fontawesome-free/css/all.min.css",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        "@forevolve/bootstrap-dark/dist/css/bootstrap-prefers-dark.css",
    # jsdelivr serves a package's "jsdelivr" file for a bare name: build/*.min.js for these three
    "https://cdn.jsdelivr.net/npm/vega@5": "vega/build/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite/build/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed/build/vega-embed.min.js",
}  # fmt: skip
# folders a copied stylesheet loads from by relative URL (Font Awesome's all.min.css: ../webfonts/)
CDN_FOLDERS = ("@fortawesome/fontawesome-free/webfonts",)
# GE's images on its S3 bucket (the logo with a tracking query, the dark-mode logo) -> its own local logo
GE_REMOTE_IMAGE = re.compile(r"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/[^\"')\s]*")
LOCAL_LOGO = Path("static") / "images" / "logo-long.png"
# what a browser would fetch: script/link/img sources and CSS url()s that are absolute http(s) URLs
REMOTE = re.compile(r"<(?:script|link|img)\b[^>]*?\b(?:src|href)=[\"'](https?://[^\"']+)|url\(\s*[\"']?(https?://[^\"')]+)")


def available() -> bool:
    return all((NODE_MODULES / rel).is_file() for rel in CDN_FILES.values())


def _copy_assets(data_docs: Path) -> None:
    for rel in [*CDN_FILES.values()]:
        target = data_docs / VENDOR / rel
        source = NODE_MODULES / rel
        if not target.exists() or target.stat().st_size != source.stat().st_size:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    for rel in CDN_FOLDERS:
        shutil.copytree(NODE_MODULES / rel, data_docs / VENDOR / rel, dirs_exist_ok=True)


def _rewrite(text: str, to_root: str) -> str:
    for url, rel in CDN_FILES.items():
        text = text.replace(f'"{url}"', f'"{to_root}{(VENDOR / rel).as_posix()}"')
    return GE_REMOTE_IMAGE.sub(f"{to_root}{LOCAL_LOGO.as_posix()}", text)


def remote_references(data_docs: Path) -> dict[str, list[str]]:
    """Per page or stylesheet (relative path), the remote URLs a browser would still fetch."""
    found = {}
    for path in sorted([*data_docs.rglob("*.html"), *(data_docs / "static" / "styles").glob("*.css")]):
        urls = sorted({a or b for a, b in REMOTE.findall(path.read_text(encoding="utf-8"))})
        if urls:
            found[path.relative_to(data_docs).as_posix()] = urls
    return found


def make_offline(data_docs: Path) -> bool:
    """Serve the Data Docs' scripts and styles from copies beside them (see the module's docstring);
    False, with a note, when the npm packages are not installed (the pages then keep their CDN links)."""
    data_docs = Path(data_docs)
    if not available():
        print(f"lakeqa: GE Data Docs load their scripts and styles from public CDNs: {NODE_MODULES} is not"
              " installed (make setup installs it with npm)", file=sys.stderr)  # fmt: skip
        return False
    _copy_assets(data_docs)
    changed = []
    for path in [*data_docs.rglob("*.html"), *(data_docs / "static" / "styles").glob("*.css")]:
        if VENDOR in path.relative_to(data_docs).parents:
            continue
        text = path.read_text(encoding="utf-8")
        to_root = os.path.relpath(data_docs, path.parent).replace(os.sep, "/") + "/"
        if to_root == "./":
            to_root = ""
        new = _rewrite(text, to_root)
        if new != text:
            changed.append((path, new))
    atomic.write_text_files(changed)
    left = remote_references(data_docs)
    if left:
        first = next(iter(left.items()))
        print(f"lakeqa: WARNING: GE Data Docs still load {sum(map(len, left.values()))} remote files that"
              f" lakeqa.ge.offline does not know (e.g. {first[1][0]} in {first[0]})", file=sys.stderr)  # fmt: skip
    return True
