#!/usr/bin/env bash
# Debian packages some optional parts need (run as root; idempotent).
#   bash scripts/install_system.sh postgres gpaw chromium
set -euo pipefail
declare -A pkgs=(
  [postgres]="postgresql"
  [gpaw]="g++ libxc-dev libopenblas-dev"
  [chromium]="chromium"
)
want=()
for part in "$@"; do
  [[ -n "${pkgs[$part]:-}" ]] || { echo "unknown part '$part' (known: ${!pkgs[*]})" >&2; exit 2; }
  for p in ${pkgs[$part]}; do
    dpkg -s "$p" >/dev/null 2>&1 || want+=("$p")
  done
done
if ((${#want[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${want[@]}" >/dev/null
  echo "installed: ${want[*]}"
fi
