#!/bin/sh
# Build the sandbox image: ./sandbox_image/build.sh [BASE] [TAG]
#   BASE defaults to python:3.11-slim (needs a registry); offline, pass a local base such as factory-base:bookworm
#   (sandbox_image/ci_setup.sh builds one with debootstrap). The tag carries the harness hash as a label, so the
#   Docker executor can tell a stale image from a current one.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BASE=${1:-python:3.11-slim}
TAG=${2:-factory-sandbox:latest}
CTX=$(mktemp -d)
trap 'rm -rf "$CTX"' EXIT
cp "$HERE/Dockerfile" "$CTX/"
cp "$HERE"/../factory/sandbox/harness*.py "$CTX/"
SHA=$(cat "$CTX"/harness*.py | sha256sum | cut -c1-16)
docker build -q --build-arg BASE="$BASE" --build-arg HARNESS_SHA="$SHA" -t "$TAG" "$CTX"
echo "built $TAG from $BASE (harness $SHA)"
