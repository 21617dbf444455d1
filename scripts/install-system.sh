#!/usr/bin/env bash
# Installs the system packages d76-alerting needs on Debian/Ubuntu, only what is missing,
# and extracts the Alertmanager web UI. Safe to run again: it does nothing when all is there.
set -euo pipefail

STATE_DIR="${D76_STATE_DIR:-$(cd "$(dirname "$0")/.." && pwd)/.d76}"
UI_SOURCE=/usr/share/gocode/src/github.com/prometheus/alertmanager/asset/assets_vfsdata.go
UI_DIR="$STATE_DIR/alertmanager-ui"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  SUDO=()
fi

missing=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1 \
  || missing+=(prometheus-alertmanager)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
[ -f "$UI_SOURCE" ] || missing+=(golang-github-prometheus-alertmanager-dev)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)              # the history page test
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)

if [ "${#missing[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "d76: missing ${missing[*]} and no apt-get here: install them by hand (see README)." >&2
    exit 1
  fi
  if [ "$(id -u)" -ne 0 ] && [ "${#SUDO[@]}" -eq 0 ]; then
    echo "d76: missing ${missing[*]}: run as root or install sudo." >&2
    exit 1
  fi
  say "installing system packages: ${missing[*]} (apt-get, a few minutes the first time)"
  "${SUDO[@]}" apt-get update -q
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  say "system packages present: prometheus, prometheus-alertmanager, postgresql, chromium"
fi

if [ ! -f "$UI_DIR/static/index.html" ]; then
  say "extracting the Alertmanager web UI into $UI_DIR"
  mkdir -p "$UI_DIR"
  python3 "$(dirname "$0")/extract_alertmanager_ui.py" "$UI_SOURCE" "$UI_DIR"
fi
