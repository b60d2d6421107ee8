#!/usr/bin/env bash
# Builds a Debian bookworm base image from Debian packages (debootstrap, then
# docker import), for machines without a registry. Usage: build-base-image.sh NAME:TAG
set -euo pipefail
image=${1:?usage: $0 NAME:TAG}
command -v debootstrap >/dev/null || apt-get install -y -q debootstrap >/dev/null

# The first Debian mirror this machine's apt already uses.
mirror=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
  | grep -oE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' | grep -oE 'https?://[^ ]+' | head -1 || true)
[ -n "$mirror" ] || { echo "no Debian mirror found in /etc/apt/sources*" >&2; exit 1; }

rootfs=$(mktemp -d /tmp/mol-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,tini bookworm "$rootfs" "$mirror" >/dev/null
tar -C "$rootfs" -c . | docker import - "$image" >/dev/null
echo "built $image from $mirror"
