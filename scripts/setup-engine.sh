#!/usr/bin/env bash
# Make this machine ready to build: a Docker engine that answers, a BuildKit-capable
# client, debootstrap, and the stand-in base images (scripts/standin-images.sh); plus a
# registry server and htpasswd, which the publishing tests start on loopback, and podman
# and skopeo, for the Podman and export tests.
# Idempotent: each step is skipped when already done. Needs root for apt and dockerd.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

need_pkgs=()
[ -x /usr/sbin/dockerd ] || command -v dockerd >/dev/null || need_pkgs+=(docker.io)
[ -x /usr/bin/docker ] || need_pkgs+=(docker.io)
command -v debootstrap >/dev/null || need_pkgs+=(debootstrap)
command -v docker-registry >/dev/null || need_pkgs+=(docker-registry)
command -v htpasswd >/dev/null || need_pkgs+=(apache2-utils)
# Podman (its Docker-compatible service: tests start one of their own) and skopeo (checks
# the exported docker-archive and OCI layouts), from Debian
command -v podman >/dev/null || need_pkgs+=(podman)
command -v skopeo >/dev/null || need_pkgs+=(skopeo)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q "${need_pkgs[@]}" >/dev/null
fi

# Debian's docker.io client (20.10) builds with BuildKit when DOCKER_BUILDKIT=1; a newer
# client first on PATH may lack the buildx plugin, so repro is pointed at this one.
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER=$(command -v docker)

if ! "$DOCKER" info >/dev/null 2>&1; then
  # scripts/dockerd.json caps BuildKit's cache at 6 GB: the test suite builds a few
  # hundred images, and by default the engine keeps a tenth of the disk's size in cache
  # (25 GB on a 250 GB disk), more than a small or shared disk has free
  log "starting dockerd (config: scripts/dockerd.json)"
  setsid dockerd --config-file "$PWD/scripts/dockerd.json" >/tmp/repro-dockerd.log 2>&1 < /dev/null &
  for _ in $(seq 1 60); do
    "$DOCKER" info >/dev/null 2>&1 && break
    sleep 1
  done
  "$DOCKER" info >/dev/null 2>&1 || { tail -n 20 /tmp/repro-dockerd.log >&2; log "dockerd did not start"; exit 1; }
fi
log "engine: $("$DOCKER" version --format '{{.Server.Version}}')"

DOCKER="$DOCKER" scripts/standin-images.sh
