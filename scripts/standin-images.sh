#!/usr/bin/env bash
# Build local stand-ins for the base images repro emits, for machines that cannot pull
# from a registry (CI here, air-gapped labs).
#
# Each stand-in is a Debian root file system made with debootstrap, imported with
# `docker import` and tagged with the exact name repro writes into a Dockerfile's FROM:
#
#   bullseye -> python:3.9-slim   (and python:2.7-slim: bullseye's python2.7 + pip 20.3.4)
#   bookworm -> python:3.11-slim  (and the nvidia/cuda names listed in CUDA_NAMES)
#   trixie   -> python:3.13-slim
#   forky    -> python:3.14-slim  (Debian testing: not built by default, since testing moves
#               under it; for benchmarks that plan today's Python: `standin-images.sh forky`)
#   pyenv    -> python:3.6-slim, 3.7, 3.8, 3.10, 3.12: the bookworm stand-in plus a CPython
#               that pyenv built on this machine (PYENV_ROOT/versions/X.Y.Z), copied into
#               /usr/local as the official images have it; a version not built is skipped
#
# How a stand-in differs from the real image is written down in docs/standins.md.
#
# Usage: scripts/standin-images.sh [SUITE ...]     (default: bullseye bookworm trixie py27 pyenv)
# Env:   DOCKER (client to use, default docker), MIRROR (Debian mirror),
#        PYENV_ROOT (default ~/.pyenv), STANDIN_FORCE=1 rebuilds images that already exist.
set -euo pipefail

DOCKER=${DOCKER:-docker}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
WORK=${STANDIN_WORK:-$(mktemp -d /tmp/repro-standin.XXXXXX)}
trap 'rm -rf "$WORK"' EXIT

# nvidia/cuda names the GPU tests build on. Their Python is bookworm's 3.11.
# 13.0.3-runtime-ubuntu24.04: what repro picks for torch 2.13.0's CUDA 13.0 build on
# Python 3.11 (tests/integration/test_gpu_build.py).
CUDA_NAMES=(
  "nvidia/cuda:12.6.3-runtime-ubuntu22.04"
  "nvidia/cuda:12.6.3-devel-ubuntu22.04"
  "nvidia/cuda:13.0.3-runtime-ubuntu24.04"
)

have_image() { [ -z "${STANDIN_FORCE:-}" ] && "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

log() { printf '[standin] %s\n' "$*" >&2; }

# make_rootfs SUITE DIR: a minimal Debian with Python 3, venv, pip and CA certificates,
# arranged like the official python:X.Y-slim images (python/pip on /usr/local/bin, no
# PEP 668 marker).
make_rootfs() {
  local suite=$1 dir=$2
  log "debootstrap $suite"
  # a release newer than this debootstrap (forky on bookworm's) bootstraps like sid
  local script=()
  [ -e "/usr/share/debootstrap/scripts/$suite" ] || script=(/usr/share/debootstrap/scripts/sid)
  debootstrap --variant=minbase \
    --include=python3,python3-venv,python3-pip,ca-certificates \
    "$suite" "$dir" "$MIRROR" "${script[@]}" >"$WORK/debootstrap-$suite.log" 2>&1 || {
      tail -n 20 "$WORK/debootstrap-$suite.log" >&2; return 1; }
  rm -f "$dir"/usr/lib/python3*/EXTERNALLY-MANAGED
  ln -sf /usr/bin/python3 "$dir/usr/local/bin/python"
  ln -sf /usr/bin/python3 "$dir/usr/local/bin/python3"
  ln -sf /usr/bin/pip3 "$dir/usr/local/bin/pip"
  ln -sf /usr/bin/pip3 "$dir/usr/local/bin/pip3"
  # A stand-in must not remember the host's apt proxy or caches.
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  printf 'deb %s %s main\n' "$MIRROR" "$suite" >"$dir/etc/apt/sources.list"
}

# import_rootfs DIR NAME: one image, with the environment the official images set.
import_rootfs() {
  local dir=$1 name=$2
  tar -C "$dir" -c . | "$DOCKER" import \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --message "repro stand-in for $name (debootstrap)" - "$name" >/dev/null
  log "tagged $name"
}

build_suite() {
  local suite=$1; shift
  local names=("$@") missing=()
  for n in "${names[@]}"; do have_image "$n" || missing+=("$n"); done
  if [ ${#missing[@]} -eq 0 ]; then log "$suite: all present"; return 0; fi
  # A name added later: tag it from a sibling that exists (same rootfs) instead of
  # rebuilding the suite, so the images already there keep their ids.
  for n in "${names[@]}"; do
    if have_image "$n"; then
      for m in "${missing[@]}"; do "$DOCKER" tag "$n" "$m"; log "tagged $m (from $n)"; done
      return 0
    fi
  done
  local dir="$WORK/$suite"
  make_rootfs "$suite" "$dir"
  import_rootfs "$dir" "${names[0]}"
  for n in "${names[@]:1}"; do "$DOCKER" tag "${names[0]}" "$n"; log "tagged $n"; done
}

# Python 2.7 on bullseye: python2.7 from Debian, then the last pip for Python 2 from its
# wheel (pip 20.3.4, setuptools 44.1.1, wheel 0.37.1), as python:2.7-slim provides.
build_py27() {
  local name="python:2.7-slim"
  if have_image "$name"; then log "py27: present"; return 0; fi
  local dir="$WORK/bullseye-py27" wheels="$WORK/py27-wheels"
  make_rootfs bullseye "$dir"
  mkdir -p "$wheels"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 2.7 \
    --dest "$wheels" pip==20.3.4 setuptools==44.1.1 wheel==0.37.1
  mount --bind /proc "$dir/proc" 2>/dev/null || true
  cp /etc/resolv.conf "$dir/etc/resolv.conf"
  chroot "$dir" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python2.7 >/dev/null' \
    || { umount "$dir/proc" 2>/dev/null || true; return 1; }
  cp "$wheels"/*.whl "$dir/tmp/"
  chroot "$dir" sh -c 'python2.7 /tmp/pip-20.3.4-py2.py3-none-any.whl/pip install --quiet --no-index /tmp/*.whl && rm /tmp/*.whl'
  umount "$dir/proc" 2>/dev/null || true
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/archives/*.deb "$dir"/root/.cache
  : >"$dir/etc/resolv.conf"
  ln -sf /usr/bin/python2.7 "$dir/usr/local/bin/python"
  ln -sf /usr/bin/python2.7 "$dir/usr/local/bin/python2"
  ln -sf /usr/local/bin/pip2.7 "$dir/usr/local/bin/pip"
  import_rootfs "$dir" "$name"
}

# Pythons Debian does not ship, from pyenv's builds on this machine: the bookworm stand-in
# (its libssl3, libffi8, libsqlite3... are what pyenv's builds on bookworm link against)
# plus the build copied into /usr/local, as the official python:X.Y-slim images install it.
# Left out: the test suite, static libraries, pyenv's own site-packages additions (only pip
# and setuptools stay, as in the official images). Scripts' shebangs are rewritten from the
# build's prefix to /usr/local/bin; libpython is found through ld.so.cache (ldconfig).
PYENV_MINORS=(3.6 3.7 3.8 3.10 3.12)
build_pyenv() {
  local root=${PYENV_ROOT:-$HOME/.pyenv} base="python:3.11-slim" minor
  have_image "$base" || build_suite bookworm "$base" "${CUDA_NAMES[@]}"
  for minor in "${PYENV_MINORS[@]}"; do
    local name="python:$minor-slim"
    if have_image "$name"; then log "pyenv $minor: present"; continue; fi
    local src
    src=$(ls -d "$root/versions/$minor".* 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$src" ] || [ ! -x "$src/bin/python$minor" ]; then
      log "pyenv $minor: no build under $root/versions (skipped; plans on Python $minor need the real image)"
      continue
    fi
    local ctx="$WORK/pyenv-$minor"
    mkdir -p "$ctx/local"
    cp -a "$src/bin" "$src/include" "$src/lib" "$ctx/local/"
    local lib="$ctx/local/lib/python$minor"
    rm -rf "$lib/test" "$lib"/config-*/*.a "$lib/site-packages/_sandboxing_egress_ca.pth" \
      "$lib/site-packages/README.txt"
    find "$lib/site-packages" -mindepth 1 -maxdepth 1 \
      ! -name 'pip' ! -name 'pip-*' ! -name 'setuptools' ! -name 'setuptools-*' \
      ! -name 'pkg_resources' ! -name '_distutils_hack' ! -name 'distutils-precedence.pth' \
      ! -name 'easy_install.py' -exec rm -rf {} +
    grep -rlI "^#!$src/bin/" "$ctx/local/bin" | xargs -r sed -i "1s|^#!$src/bin/|#!/usr/local/bin/|"
    cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $base
COPY local/ /usr/local/
RUN ln -sf python$minor /usr/local/bin/python3 && ln -sf python$minor /usr/local/bin/python \\
 && ln -sf pip$minor /usr/local/bin/pip3 && ln -sf pip$minor /usr/local/bin/pip \\
 && ldconfig && python3 -c 'import ssl, sqlite3, ctypes, venv' && pip --version
DOCKERFILE
    DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$name" "$ctx" >"$WORK/pyenv-$minor.log" 2>&1 || {
      tail -n 20 "$WORK/pyenv-$minor.log" >&2; return 1; }
    rm -rf "$ctx"
    log "tagged $name (from $(basename "$src"))"
  done
}

main() {
  local suites=("$@")
  [ ${#suites[@]} -gt 0 ] || suites=(bullseye bookworm trixie py27 pyenv)
  command -v debootstrap >/dev/null || { echo "standin-images: debootstrap is not installed (apt-get install -y debootstrap)" >&2; exit 1; }
  for s in "${suites[@]}"; do
    case "$s" in
      bullseye) build_suite bullseye "python:3.9-slim" ;;
      bookworm) build_suite bookworm "python:3.11-slim" "${CUDA_NAMES[@]}" ;;
      trixie) build_suite trixie "python:3.13-slim" ;;
      forky) build_suite forky "python:3.14-slim" ;;
      py27) build_py27 ;;
      pyenv) build_pyenv ;;
      *) echo "standin-images: unknown suite '$s' (bullseye, bookworm, trixie, forky, py27, pyenv)" >&2; exit 2 ;;
    esac
  done
}

main "$@"
