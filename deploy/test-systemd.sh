#!/usr/bin/env bash
# Run the unit as shipped under a real systemd, installed by deploy/install.sh: in a container that boots
# systemd (podman --systemd=always), so that every hardening option (ProtectProc, ProcSubset, PrivateUsers,
# MemoryDenyWriteExecute, SystemCallFilter, IPAddressDeny, DynamicUser, LoadCredential) is applied to the
# daemon and its parse workers. Checks: `watcher check` passes as ExecStartPre, the service becomes active
# (READY=1), an HTML document dropped into the seed directory (parsed in a worker) raises its alert, a
# reload (SIGHUP) keeps it running, and a stop ends it cleanly.
#
#   deploy/test-systemd.sh            from the repository root; needs podman; KEEP=1 leaves the container
set -euo pipefail
cd "$(dirname "$0")/.."

NAME=watcher-systemd-$$
IMAGE=localhost/watcher-systemd:test
WORK=$(mktemp -d)
say() { printf 'test-systemd: %s\n' "$*"; }
inside() { podman exec "$NAME" sh -c "$1"; }
fail() {
  say "FAILED: $*"
  inside 'journalctl -u watcher --no-pager | tail -30' 2>/dev/null | sed 's/^/  | /' || true
  exit 1
}
cleanup() {
  if [ "${KEEP:-}" != 1 ]; then
    podman rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

. deploy/podman-lib.sh
pick_base

# The base with systemd as its init (any Debian base: the official slim image is one).
cat > "$WORK/Containerfile" <<EOF
FROM $BASE
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      systemd systemd-sysv dbus python3-venv > /dev/null && rm -rf /var/lib/apt/lists/*
CMD ["/sbin/init"]
EOF
say "building $IMAGE on $BASE"
podman build -q -f "$WORK/Containerfile" -t "$IMAGE" "$WORK" > "$WORK/build.log" 2>&1 \
  || { tail -20 "$WORK/build.log"; say "FAILED: the systemd image did not build"; exit 1; }

podman run -d --name "$NAME" --systemd=always \
  -v "$PWD:/src:ro" -v "$CA_BUNDLE:/etc/ssl/certs/host-ca.crt:ro" "$IMAGE" > /dev/null 2>> "$WORK/podman.log" \
  || { cat "$WORK/podman.log"; say "FAILED: the container did not start"; exit 1; }
for _ in $(seq 1 30); do
  state=$(inside 'systemctl is-system-running' 2>/dev/null || true)
  case "$state" in running|degraded) break ;; esac
  sleep 1
done
say "systemd is $state in $NAME"

say "installing with deploy/install.sh"
inside 'mkdir /tmp/src && cd /src && tar --exclude=./.venv --exclude=./.git -cf - . | tar -C /tmp/src -xf - \
  && cd /tmp/src && PIP_CERT=/etc/ssl/certs/host-ca.crt bash deploy/install.sh' > "$WORK/install.log" 2>&1 \
  || { tail -20 "$WORK/install.log"; fail "deploy/install.sh failed"; }

# The shipped sample config, with its seed directory polled every few seconds and no feed (no internet here).
inside "sed -i -e 's/interval: 5m}/interval: 3s}/' -e '/^feeds:/,/^\$/d' /etc/watcher/watcher.yaml"
inside 'systemctl start watcher' || fail "the service did not start"
[ "$(inside 'systemctl is-active watcher')" = active ] || fail "the service is not active"
inside 'systemctl show -p ExecStartPre watcher' | grep -q 'watcher check' || fail "no ExecStartPre=watcher check"
say "active: $(inside 'systemctl show -p StatusText --value watcher')"

podman exec -i "$NAME" sh -c 'cat > /var/lib/watcher/inbox/report.html' <<'EOF'
<html><head><title>Shells by rail</title></head><body><p>Pyongyang shipped artillery shells by rail for use
against Kyiv, and the munitions reached the front in Ukraine, officials said.</p></body></html>
EOF
found=
for _ in $(seq 1 30); do
  if inside 'watcher alerts list --json --config /etc/watcher/watcher.yaml' 2>/dev/null | grep -q dprk-ukraine-arms; then
    found=1
    break
  fi
  sleep 1
done
[ -n "$found" ] || fail "no alert for the HTML document dropped into /var/lib/watcher/inbox"
say "the document was parsed in a worker under the unit's sandbox and its alert recorded"

inside 'systemctl reload watcher' || fail "reload failed"
sleep 2
[ "$(inside 'systemctl is-active watcher')" = active ] || fail "not active after a reload"
# The stop: the main process must exit 0 within the grace period. (systemd in a container on cgroup v1 is not
# told when the service's cgroup empties, so it waits out TimeoutStopSec before it says "stopped": the main
# process's own exit is what is checked.)
inside 'systemctl stop --no-block watcher'
stopped=
for _ in $(seq 1 20); do
  if [ "$(inside 'systemctl show -p ExecMainCode --value watcher')" = 1 ]; then stopped=1; break; fi
  sleep 1
done
[ -n "$stopped" ] || fail "the main process did not exit within 20s of the stop"
status=$(inside 'systemctl show -p ExecMainStatus --value watcher')
[ "$status" = 0 ] || fail "the main process exited with status $status"
inside 'journalctl -u watcher --no-pager' | grep -q '"message": "stopped"' || fail "no 'stopped' in the journal"
if inside 'journalctl -u watcher --no-pager' | grep -E -i 'Operation not permitted|Permission denied|SIGSYS|Traceback'; then
  fail "the journal shows the sandbox refusing something"
fi
say "reloaded, stopped cleanly (exit 0), nothing refused in the journal"
say "ok"
