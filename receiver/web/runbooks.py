"""GET /runbooks/<AlertName>: the runbook docs/runbooks/<AlertName>.md as an HTML page.

Every rule's ``runbook_url`` is ``<runbook_base_url>/<AlertName>`` (prometheus.yml), so a link in
Telegram, Slack or the Alertmanager UI opens here. The name is checked against the files found
at start-up, never joined to a path from the request, so nothing outside the directory can be
read. Markdown is rendered by markdown-it-py with raw HTML disabled (it is shown as text) and
its link validation (no ``javascript:`` or ``data:`` links).
"""

from __future__ import annotations

import functools
import html
import logging
import re
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app
from markdown_it import MarkdownIt

from receiver.errors import NotFound
from receiver.links import find_runbooks, runbooks_dir

bp = Blueprint("runbooks", __name__)
_EXTENSION_KEY = "d76.runbooks"
# A link to a sibling runbook (`Other.md`) opens its page; a link into docs/ is left as is.
_SIBLING = re.compile(r'href="([A-Za-z][A-Za-z0-9_]{0,99})\.md(#[^"]*)?"')

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · d76 runbook</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 50rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; }}
code, pre {{ background: #f4f4f4; padding: 0 .2rem; }} pre {{ padding: .5rem; overflow-x: auto; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: .2rem .5rem; }}
</style></head>
<body>
{body}
</body></html>
"""


@functools.cache
def _renderer() -> MarkdownIt:
    # "js-default": CommonMark with raw HTML off and unsafe link schemes refused; tables on.
    return MarkdownIt("js-default").enable("table")


def init_app(app: Flask, directory: Path | None = None) -> None:
    """Register the blueprint; the runbooks directory is D76_RUNBOOKS_DIR or docs/runbooks."""
    chosen = directory or runbooks_dir()
    app.extensions[_EXTENSION_KEY] = find_runbooks(chosen)
    if not app.extensions[_EXTENSION_KEY]:  # every runbook link in every message would 404
        logging.getLogger("d76.receiver").error(
            "no runbooks in %s: set D76_RUNBOOKS_DIR to the docs/runbooks directory", chosen
        )
    app.register_blueprint(bp)


def render(text: str, title: str) -> str:
    body = _renderer().render(text)
    body = _SIBLING.sub(lambda m: f'href="{m.group(1)}{m.group(2) or ""}"', body)
    return _PAGE.format(title=html.escape(title), body=body)


@bp.get("/runbooks/<name>")
def show(name: str) -> Response:
    runbooks: dict[str, Path] = current_app.extensions[_EXTENSION_KEY]
    path = runbooks.get(name)  # only names found at start-up: never a path from the request
    if path is None:
        raise NotFound(f"no runbook for alert {name[:100]!r}")
    page = render(path.read_text(encoding="utf-8"), name)
    return Response(
        page,
        mimetype="text/html",
        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
    )
