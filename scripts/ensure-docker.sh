#!/usr/bin/env bash
# Make sure a Docker daemon answers. Machines without systemd (CI containers, VMs whose PID 1 is
# something else) get dockerd started in the background.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi
if [ -d /run/systemd/system ]; then
  systemctl start docker
else
  service docker start >/dev/null 2>&1 || true
  if ! docker info >/dev/null 2>&1; then
    nohup dockerd >/var/log/dockerd.log 2>&1 &
  fi
fi
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "Docker did not start; see /var/log/dockerd.log" >&2
exit 1
