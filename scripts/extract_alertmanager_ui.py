"""Extract Alertmanager's prebuilt web UI from Debian's Go source package.

Debian's ``prometheus-alertmanager`` binary is built without its web UI, but
``golang-github-prometheus-alertmanager-dev`` ships the upstream UI as Go
source (``asset/assets_vfsdata.go``) where every file is a ``"\\xHH..."`` byte
string, gzip-compressed or plain. This writes those files out so Alertmanager
can serve them with ``--web.ui-path=<dest>/static/``.

Usage: python3 scripts/extract_alertmanager_ui.py [SOURCE.go] DEST_DIR
"""

from __future__ import annotations

import gzip
import re
import sys
from pathlib import Path

DEFAULT_SOURCE = Path(
    "/usr/share/gocode/src/github.com/prometheus/alertmanager/asset/assets_vfsdata.go"
)

# One entry: "/static/x.js": &vfsgen۰CompressedFileInfo{ ... compressedContent: []byte("\x1f...") }
_ENTRY = re.compile(
    r'"(?P<path>/[^"]+)": &vfsgen\S(?P<kind>Compressed)?FileInfo\{'
    r'.*?(?:compressedContent|content): \[\]byte\("(?P<bytes>[^"]*)"\)',
    re.DOTALL,
)


def _decode(escaped: str) -> bytes:
    if escaped and not escaped.startswith("\\x"):
        raise ValueError("unexpected byte-string encoding in vfsgen source")
    return bytes.fromhex(escaped.replace("\\x", ""))


def extract(source: Path, dest: Path) -> int:
    text = source.read_text(encoding="utf-8")
    count = 0
    for match in _ENTRY.finditer(text):
        data = _decode(match["bytes"])
        if match["kind"]:
            data = gzip.decompress(data)
        target = dest / match["path"].lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        count += 1
    if not (dest / "static" / "index.html").is_file():
        raise SystemExit(f"no static/index.html found in {source}: is this the right file?")
    return count


def main(argv: list[str]) -> int:
    if len(argv) == 2:
        source, dest = Path(argv[0]), Path(argv[1])
    elif len(argv) == 1:
        source, dest = DEFAULT_SOURCE, Path(argv[0])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    count = extract(source, dest)
    print(f"extracted {count} Alertmanager UI files into {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
