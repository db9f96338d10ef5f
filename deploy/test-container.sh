#!/usr/bin/env bash
# Build the container image and prove it works: run it as it is meant to run (read-only root, every
# capability dropped, no new privileges, a tmpfs /tmp, one /data volume, a small config), wait until its
# HEALTHCHECK passes, check it does not run as root, drop a matching document into its seed directory and
# see the alert recorded, then stop it and check a clean exit within the grace period.
#
#   deploy/test-container.sh            from the repository root; needs podman (root or rootless)
#
# Where no registry answers (no docker.io), a base image is made locally first: Debian bookworm (minbase)
# from the apt mirror this machine uses, with python3 and a venv on PATH. pip inside the build trusts this
# machine's CA bundle (PIP_CERT), for networks that reach PyPI through a TLS proxy. Environment:
#   WATCHER_BASE   the base image to use (skips the registry probe and the local base)
#   KEEP=1         leave the container, volume and work directory for a look afterwards
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=localhost/watcher:test
NAME=watcher-test-$$
VOLUME=watcher-test-data-$$
GRACE=20
WORK=$(mktemp -d)
say() { printf 'test-container: %s\n' "$*"; }
fail() { say "FAILED: $*"; podman logs --tail 40 "$NAME" 2>&1 | sed 's/^/  | /' || true; exit 1; }

cleanup() {
  if [ "${KEEP:-}" != 1 ]; then
    podman rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
    podman volume rm -f "$VOLUME" >/dev/null 2>&1 || true
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

. deploy/podman-lib.sh
pick_base

say "building $IMAGE on $BASE"
started=$(date +%s)
podman build --format docker -q -f deploy/Containerfile --build-arg "BASE=$BASE" "${BUILD_CA[@]}" -t "$IMAGE" . \
  > "$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log"; fail "the image did not build"; }
size=$(podman image inspect -f '{{.Size}}' "$IMAGE")
say "built in $(( $(date +%s) - started ))s, $(( size / 1024 / 1024 )) MB"
podman image inspect -f '{{json .Config.Healthcheck}}' "$IMAGE" | grep -q healthz || fail "the image has no HEALTHCHECK"

# A small config: the seed directory polled every few seconds, one rule, the health server for the check.
mkdir -p "$WORK/rules"
cat > "$WORK/watcher.yaml" <<'EOF'
database: /data/watcher.db
rules: rules
seeds:
  - {path: /data/inbox, interval: 3s}
server:
  listen: "0.0.0.0:9090"
  token: "${WATCHER_TOKEN}"
daemon:
  grace_period: 10s
EOF
cat > "$WORK/rules/container.yaml" <<'EOF'
rules:
  - id: container-check
    title: Container check
    match: [artillery shells]
EOF

podman volume create "$VOLUME" >/dev/null
say "running $NAME read-only, all capabilities dropped"
podman run -d --name "$NAME" \
  --read-only --cap-drop ALL --security-opt no-new-privileges \
  --tmpfs /tmp --volume "$VOLUME:/data" --env WATCHER_TOKEN=test-token-$$ \
  --volume "$WORK/watcher.yaml:/etc/watcher/watcher.yaml:ro,Z" \
  --volume "$WORK/rules:/etc/watcher/rules:ro,Z" \
  "$IMAGE" > /dev/null 2>> "$WORK/podman.log" || { cat "$WORK/podman.log"; fail "the container did not start"; }

healthy=
for _ in $(seq 1 60); do
  if podman healthcheck run "$NAME" >/dev/null 2>&1; then healthy=1; break; fi
  [ "$(podman inspect -f '{{.State.Running}}' "$NAME")" = true ] || fail "the container exited"
  sleep 1
done
[ -n "$healthy" ] || fail "the health check did not pass within 60s"
say "healthy"

uid=$(podman exec "$NAME" id -u)
[ "$uid" != 0 ] || fail "the daemon runs as root"
say "runs as uid $uid"

podman exec -i "$NAME" sh -c 'cat > /data/inbox/report.txt' <<'EOF'
Shipment seen at the border

Officials said that artillery shells crossed the border by rail on Tuesday.
EOF
alerts=
for _ in $(seq 1 30); do
  alerts=$(podman exec "$NAME" watcher alerts list --json 2>/dev/null || true)
  if printf '%s' "$alerts" | grep -q '"rule": "container-check"'; then break; fi
  alerts=
  sleep 1
done
[ -n "$alerts" ] || fail "no alert recorded for the document dropped into /data/inbox"
say "alert recorded: $(printf '%s' "$alerts" | head -1 | cut -c1-120)"

# The dashboard on the same address wants the token; /healthz does not.
page() {
  podman exec "$NAME" python3 -c "
import sys, urllib.request, urllib.error
req = urllib.request.Request('http://127.0.0.1:9090/', headers={'Authorization': sys.argv[1]} if sys.argv[1] else {})
try:
    print(urllib.request.urlopen(req, timeout=5).status)
except urllib.error.HTTPError as e:
    print(e.code)" "$1"
}
[ "$(page '')" = 401 ] || fail "the dashboard answered without its token"
[ "$(page "Bearer test-token-$$")" = 200 ] || fail "the dashboard refused its token"
say "dashboard: 401 without the token, 200 with it"

started=$(date +%s)
podman stop -t "$GRACE" "$NAME" > /dev/null 2>> "$WORK/podman.log"
took=$(( $(date +%s) - started ))
code=$(podman inspect -f '{{.State.ExitCode}}' "$NAME")
[ "$code" = 0 ] || fail "exit code $code after podman stop"
[ "$took" -lt "$GRACE" ] || fail "the stop took ${took}s, not within the ${GRACE}s grace period"
say "stopped cleanly in ${took}s (exit 0)"

# deploy/compose.yaml, as shipped, on the image just built (tagged as the image compose names).
if command -v podman-compose >/dev/null; then
  PROJECT=watcher-compose-$$
  PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  compose() { WATCHER_TOKEN=compose-token-$$ WATCHER_PORT=$PORT podman-compose -f deploy/compose.yaml -p "$PROJECT" "$@" >> "$WORK/compose.log" 2>&1; }
  podman tag "$IMAGE" localhost/watcher:latest
  compose up -d || { tail -20 "$WORK/compose.log"; fail "podman-compose up failed"; }
  answer=
  for _ in $(seq 1 60); do
    answer=$(python3 -c "import urllib.request as u; print(u.urlopen('http://127.0.0.1:$PORT/healthz', timeout=2).read().decode())" 2>/dev/null || true)
    [ "$answer" = ok ] && break
    sleep 1
  done
  compose down -v || true
  [ "$answer" = ok ] || { tail -20 "$WORK/compose.log"; fail "deploy/compose.yaml: /healthz did not answer ok on 127.0.0.1:$PORT"; }
  say "deploy/compose.yaml runs (podman-compose): /healthz ok on the host's loopback"
else
  say "podman-compose is not installed: deploy/compose.yaml is checked statically only (tests/test_deploy.py)"
fi
say "ok"
