#!/usr/bin/env bash
# Start, check or stop the two background data-set builds (Track X: data/track_x/build.sh,
# Track M: scripts/build_track_m.sh) in one command. Both resume from their stores, so starting
# after a reboot, a killed session or a fresh checkout loses nothing already computed.
#
#   bash scripts/builds.sh start     # start whichever is not running (nice 19, own session)
#   bash scripts/builds.sh status    # running or not, and `qaware status` of each store
#   bash scripts/builds.sh stop      # stop both (the calls in flight are lost, nothing else)
# Stop a build before editing its script or spec: bash reads a running script by offset.
set -euo pipefail
cd "$(dirname "$0")/.."

NAMES=(track_x track_m)
declare -A SCRIPT=([track_x]=data/track_x/build.sh [track_m]=scripts/build_track_m.sh)
declare -A LOG=([track_x]=data/track_x/build.log [track_m]=data/track_m/build.log)
declare -A STORE=([track_x]=data/track_x/run [track_m]=data/track_m/run)

pgid_of() {  # process group of the running build script, empty when none
  local pid
  # however it was started: bash SCRIPT, ./SCRIPT (its shebang runs bash), an absolute path
  pid="$(pgrep -f "bash (.*/)?${SCRIPT[$1]}( |\$)" | head -n 1 || true)"
  [[ -n "$pid" ]] && ps -o pgid= -p "$pid" | tr -d ' '
  return 0
}

case "${1:-status}" in
  start)
    for name in "${NAMES[@]}"; do
      if [[ -n "$(pgid_of "$name")" ]]; then
        echo "$name: already running"
        continue
      fi
      (BUILD_NICE=19 OMP_NUM_THREADS=1 setsid nohup bash "${SCRIPT[$name]}" \
        >> "${LOG[$name]}" 2>&1 &)
      echo "$name: started (log ${LOG[$name]})"
    done
    ;;
  status)
    for name in "${NAMES[@]}"; do
      group="$(pgid_of "$name")"
      if [[ -n "$group" ]]; then
        echo "$name: running (process group $group)"
      else
        echo "$name: not running"
      fi
      if [[ -e "${STORE[$name]}/events.jsonl" ]]; then
        python -m qaware status "${STORE[$name]}" | sed 's/^/  /'
      fi
    done
    ;;
  stop)
    for name in "${NAMES[@]}"; do
      group="$(pgid_of "$name")"
      if [[ -n "$group" ]]; then
        kill -- "-$group" && echo "$name: stopped"
      else
        echo "$name: not running"
      fi
    done
    ;;
  *)
    echo "usage: bash scripts/builds.sh [start|status|stop]" >&2
    exit 2
    ;;
esac
