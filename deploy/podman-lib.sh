# Shared by deploy/test-container.sh and deploy/test-systemd.sh (sourced; they set WORK and say first).
#
# This machine's engine settings: runc (crun refuses a kernel with cgroups in hybrid mode), and default
# ulimits that root without CAP_SYS_RESOURCE may set. A containers.conf of the caller's wins.
if [ -z "${CONTAINERS_CONF:-}" ]; then
  cat > "$WORK/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
EOF
  export CONTAINERS_CONF="$WORK/containers.conf"
fi

# pip inside a build trusts this machine's CA bundle, for networks that reach PyPI through a TLS proxy.
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
BUILD_CA=()
if [ -r "$CA_BUNDLE" ]; then
  BUILD_CA=(-v "$CA_BUNDLE:/etc/ssl/certs/host-ca.crt:ro" --build-arg PIP_CERT=/etc/ssl/certs/host-ca.crt)
fi
LOCAL_BASE=localhost/watcher-base:bookworm

local_base() {
  # Debian from the mirror apt already uses here, imported as an image: python3 and a venv (with pip) on PATH.
  if podman image exists "$LOCAL_BASE"; then
    say "local base $LOCAL_BASE is there"
    return
  fi
  command -v debootstrap >/dev/null || { say "no registry answers and debootstrap is missing"; exit 1; }
  local mirror
  mirror=$(grep -hoE '^(URIs:|deb) +https?://[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | awk '{print $2}' | grep -v security | head -1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  say "no registry answers: making $LOCAL_BASE with debootstrap from $mirror"
  local root="$WORK/rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" "$mirror" \
    > "$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log"; exit 1; }
  chroot "$root" python3 -m venv /opt/venv
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | podman import \
    --change 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["python3"]' - "$LOCAL_BASE" >/dev/null
}

# BASE: $WATCHER_BASE, else the official slim image where a registry answers, else the local Debian base.
pick_base() {
  if [ -n "${WATCHER_BASE:-}" ]; then
    BASE=$WATCHER_BASE
  elif timeout 20 podman pull -q docker.io/library/python:3.11-slim >/dev/null 2>&1; then
    BASE=docker.io/library/python:3.11-slim
  else
    local_base
    BASE=$LOCAL_BASE
  fi
}
