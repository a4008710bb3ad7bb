#!/bin/bash
# Prepare a fresh Debian machine (as root) for the sandbox tests: bubblewrap, a running Docker engine, a base
# image built with debootstrap (no registry needed) and the sandbox image on top. Idempotent: every step checks
# first and says what it did. Environment knobs:
#   DOCKER_DATA_ROOT (/tmp/dockerdata)   SUITE (this machine's Debian codename, else bookworm)
#   BASE_TAG (factory-base:<suite>)      IMAGE (factory-sandbox:latest)    CACHE (/var/cache/factory)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
log() { echo "[ci_setup] $*"; }
SUITE=${SUITE:-$( (. /etc/os-release 2>/dev/null && [ "${ID:-}" = debian ] && echo "${VERSION_CODENAME:-}") || true)}
SUITE=${SUITE:-bookworm}
BASE_TAG=${BASE_TAG:-factory-base:$SUITE}
IMAGE=${IMAGE:-factory-sandbox:latest}
CACHE=${CACHE:-/var/cache/factory}
DATA_ROOT=${DOCKER_DATA_ROOT:-/tmp/dockerdata}

# 1. Packages.
missing=()
for pair in bwrap:bubblewrap dockerd:docker.io debootstrap:debootstrap; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
else
  log "bubblewrap, docker.io, debootstrap already installed"
fi

# 2. A Docker engine.
if docker info >/dev/null 2>&1; then
  log "a Docker engine already answers"
else
  log "starting dockerd (data root $DATA_ROOT, pid file /tmp/factory-dockerd.pid, log /tmp/factory-dockerd.log)"
  nohup dockerd --data-root "$DATA_ROOT" --pidfile /tmp/factory-dockerd.pid >/tmp/factory-dockerd.log 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -20 /tmp/factory-dockerd.log; log "dockerd did not start"; exit 1; }
  log "dockerd is up"
fi

# 3. The base image, from Debian packages (no registry is reachable from CI machines like ours).
if docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
  log "base image $BASE_TAG already present"
else
  tarball="$CACHE/rootfs-$SUITE.tar"
  if [ -s "$tarball" ]; then
    log "importing cached rootfs $tarball"
    docker import "$tarball" "$BASE_TAG" >/dev/null
  elif [ "${SUITE}" = bookworm ] && [ -x /tmp/rootfs/usr/bin/python3 ] && tail -1 /tmp/debootstrap.log 2>/dev/null | grep -q DONE; then
    log "importing the finished debootstrap rootfs at /tmp/rootfs"
    tar -C /tmp/rootfs -c . | docker import - "$BASE_TAG" >/dev/null
  else
    mirror=$(awk '/^URIs/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    mirror=${mirror:-$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)}
    mirror=${mirror:-http://deb.debian.org/debian}
    rootfs=$(mktemp -d /tmp/factory-rootfs.XXXXXX)
    log "debootstrap $SUITE from $mirror into $rootfs (about 2 minutes)"
    debootstrap --variant=minbase --include=python3-minimal,python3 "$SUITE" "$rootfs" "$mirror" >/tmp/factory-debootstrap.log 2>&1 \
      || { tail -20 /tmp/factory-debootstrap.log; log "debootstrap failed"; exit 1; }
    if mkdir -p "$CACHE" 2>/dev/null && tar -C "$rootfs" -cf "$tarball.part" . 2>/dev/null; then
      mv "$tarball.part" "$tarball" && log "cached the rootfs as $tarball"
    fi
    tar -C "$rootfs" -c . | docker import - "$BASE_TAG" >/dev/null
    rm -rf "$rootfs"
  fi
  log "base image $BASE_TAG imported"
fi

# 4. The sandbox image (cheap; rebuilt every time so the baked-in harness is current).
"$HERE/build.sh" "$BASE_TAG" "$IMAGE" | sed 's/^/[ci_setup] /'
docker run --rm --network none --read-only --cap-drop ALL "$IMAGE" sandbox-python -I -c "print('[ci_setup] sandbox image runs')"
