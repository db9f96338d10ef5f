#!/usr/bin/env bash
# Install watcher as a systemd service (run as root from the repository), the way docs/operations.md says:
#   - the package in its own venv, /opt/watcher, with /usr/local/bin/watcher linking to its command;
#   - the unit as shipped in /etc/systemd/system, and the operations guide its Documentation= names;
#   - /etc/watcher/watcher.yaml and /etc/watcher/rules (kept if they are there already);
#   - /etc/watcher/credentials/notify-url, mode 0600, the file the unit's LoadCredential= needs (empty until
#     you write a notification URL into it: watcher.yaml names it as ${credential:notify-url}).
# Then, where systemd runs: systemctl daemon-reload. Start it with: systemctl enable --now watcher
#
#   sudo deploy/install.sh            PREFIX=/opt/watcher by default
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${PREFIX:-/opt/watcher}

python3 -m venv "$PREFIX"
"$PREFIX/bin/pip" install --quiet --disable-pip-version-check .
ln -sfn "$PREFIX/bin/watcher" /usr/local/bin/watcher

install -D -m 0644 deploy/watcher.service /etc/systemd/system/watcher.service
install -D -m 0644 docs/operations.md /usr/share/doc/watcher/operations.md
[ -e /etc/watcher/watcher.yaml ] || install -D -m 0644 deploy/watcher.yaml /etc/watcher/watcher.yaml
[ -e /etc/watcher/rules ] || cp -r rules /etc/watcher/rules
install -d -m 0700 /etc/watcher/credentials
[ -e /etc/watcher/credentials/notify-url ] || install -m 0600 /dev/null /etc/watcher/credentials/notify-url

if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
fi
echo "installed: $(/usr/local/bin/watcher --version); start it with: systemctl enable --now watcher"
