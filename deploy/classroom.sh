#!/usr/bin/env bash
# A whole class on one machine: N Streamlit processes behind HAProxy (cookie-sticky), one Dask scheduler
# and its workers for the trainings. One command starts it all; Ctrl-C (or SIGTERM) stops it all.
#
#   deploy/classroom.sh                                  # 2 replicas on :8500, scheduler :8786, 1 worker
#   deploy/classroom.sh --replicas 4 --workers 2 --port 80 --address 0.0.0.0
#
# Options (defaults in brackets):
#   --replicas N          Streamlit processes [2]            --first-port P   their ports P, P+1, … [8601]
#   --replica-ports a,b   explicit replica ports (instead of --replicas/--first-port)
#   --port P              the balancer's port (what students open) [8500]
#   --address A           the balancer's address [127.0.0.1]; 0.0.0.0 for a classroom network
#   --scheduler-port P    Dask scheduler [8786]               --workers N    Dask worker processes [1]
#   --torch-threads T     PyTorch threads per worker [cores / workers]
#   --run-dir D           logs, haproxy.cfg, Dask spill space [a new mktemp -d]
# Environment: PYTHON (the interpreter with the app's requirements; default .venv/bin/python, else python3),
# MNIST_DIR (passed to the replicas and workers), HAPROXY [/usr/sbin/haproxy].
#
# Replicas and workers listen on 127.0.0.1 only; only HAProxy faces the network. Each replica gets
# EXPLAINER_DASK_SCHEDULER=tcp://127.0.0.1:<scheduler-port>, so trainings go to the workers, not the web
# processes. Stickiness is by cookie (EXPLAINER_SRV), not by client IP: a classroom often shares one public
# IP, and a session's websocket, uploads (/_stcore/upload_file) and media must reach its own process.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPLICAS=2 FIRST_PORT=8601 REPLICA_PORTS="" PORT=8500 ADDRESS=127.0.0.1
SCHED_PORT=8786 WORKERS=1 TORCH_THREADS="" RUN_DIR=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --replicas) REPLICAS="$2"; shift 2 ;;
    --first-port) FIRST_PORT="$2"; shift 2 ;;
    --replica-ports) REPLICA_PORTS="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    --address) ADDRESS="$2"; shift 2 ;;
    --scheduler-port) SCHED_PORT="$2"; shift 2 ;;
    --workers) WORKERS="$2"; shift 2 ;;
    --torch-threads) TORCH_THREADS="$2"; shift 2 ;;
    --run-dir) RUN_DIR="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
HAPROXY="${HAPROXY:-/usr/sbin/haproxy}"
DASK="$(dirname "$(command -v "$PYTHON")")/dask"
[[ -x "$DASK" ]] || DASK="$(command -v dask || true)"
[[ -n "$DASK" ]] || { echo "the dask CLI (package distributed) is not installed for $PYTHON" >&2; exit 1; }
[[ -x "$HAPROXY" ]] || { echo "haproxy not found at $HAPROXY (Debian: apt install haproxy)" >&2; exit 1; }

if [[ -n "$REPLICA_PORTS" ]]; then
  IFS=, read -r -a PORTS <<< "$REPLICA_PORTS"
else
  PORTS=(); for ((i = 0; i < REPLICAS; i++)); do PORTS+=($((FIRST_PORT + i))); done
fi
[[ ${#PORTS[@]} -ge 1 && $WORKERS -ge 1 ]] || { echo "need at least one replica and one worker" >&2; exit 2; }
CORES="$(nproc)"
[[ -n "$TORCH_THREADS" ]] || TORCH_THREADS=$(( CORES / WORKERS > 0 ? CORES / WORKERS : 1 ))
[[ -n "$RUN_DIR" ]] || RUN_DIR="$(mktemp -d -t explainer-classroom.XXXXXX)"
mkdir -p "$RUN_DIR"
SCHEDULER="tcp://127.0.0.1:$SCHED_PORT"
# one secret for all replicas (Streamlit signs its cookies with it), new each start
SECRET="$("$PYTHON" -c 'import secrets; print(secrets.token_hex(32))')"

PIDS=() NAMES=()
stopping=0
stop() {
  # Reverse start order: the balancer first (no new clicks), then the web processes, then the workers
  # (a training still running is cancelled there), the scheduler last. Up to 20 s each, then SIGKILL.
  [[ $stopping -eq 1 ]] && return
  stopping=1
  trap '' INT TERM
  local i pid deadline
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid=${PIDS[$i]}
    kill -0 "$pid" 2>/dev/null || continue
    echo "stopping ${NAMES[$i]} (pid $pid)"
    # HAProxy: SIGUSR1 is its graceful stop (open websockets get hard-stop-after); the others stop on SIGTERM
    if [[ "${NAMES[$i]}" == haproxy ]]; then kill -USR1 "$pid" 2>/dev/null || true; else kill -TERM "$pid" 2>/dev/null || true; fi
    deadline=$((SECONDS + 20))
    while kill -0 "$pid" 2>/dev/null && [[ $SECONDS -lt $deadline ]]; do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "${NAMES[$i]} did not stop in 20 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    local rc=0
    wait "$pid" 2>/dev/null || rc=$?
    echo "${NAMES[$i]} exited with status $rc"
  done
  echo "stopped; logs in $RUN_DIR"
}
trap 'stop; exit 0' INT TERM
trap 'stop' EXIT

start() {  # start NAME LOGFILE CMD... — in the background, remembered for stop()
  local name="$1" log="$2"; shift 2
  "$@" > "$log" 2>&1 &
  PIDS+=($!) NAMES+=("$name")
  echo "started $name pid $!"
}

wait_until() {  # wait_until SECONDS DESCRIPTION CMD...
  local limit="$1" what="$2"; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if [[ $SECONDS -ge $deadline ]]; then echo "$what: not ready in ${limit} s (logs in $RUN_DIR)" >&2; exit 1; fi
    for i in "${!PIDS[@]}"; do
      kill -0 "${PIDS[$i]}" 2>/dev/null || { echo "${NAMES[$i]} exited (log in $RUN_DIR)" >&2; exit 1; }
    done
    sleep 0.5
  done
}

http_ok() { "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1"; }
dask_ok() {
  "$PYTHON" - "$SCHEDULER" "$1" <<'EOF'
import sys
from distributed import Client
with Client(sys.argv[1], timeout=5) as c:
    sys.exit(0 if len(c.scheduler_info(n_workers=-1)["workers"]) >= int(sys.argv[2]) else 1)
EOF
}

export MNIST_DIR="${MNIST_DIR:-$ROOT/../shared/mnist}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"   # the workers import explainer/

# 1. Dask: the scheduler, then the workers (one training slot each; torch threads set per worker)
start scheduler "$RUN_DIR/scheduler.log" \
  "$DASK" scheduler --host 127.0.0.1 --port "$SCHED_PORT" --no-dashboard
wait_until 60 "dask scheduler" "$PYTHON" -c "import socket; socket.create_connection(('127.0.0.1', $SCHED_PORT), 2)"
start workers "$RUN_DIR/workers.log" env EXPLAINER_TORCH_THREADS="$TORCH_THREADS" OMP_NUM_THREADS="$TORCH_THREADS" \
  "$DASK" worker "$SCHEDULER" --nworkers "$WORKERS" --nthreads 1 --resources training=1 \
  --no-dashboard --host 127.0.0.1 --local-directory "$RUN_DIR/dask" --name explainer-worker
wait_until 120 "dask workers" dask_ok "$WORKERS"

# 2. the web processes
for i in "${!PORTS[@]}"; do
  start "web$((i + 1))" "$RUN_DIR/web$((i + 1)).log" env EXPLAINER_DASK_SCHEDULER="$SCHEDULER" \
    STREAMLIT_SERVER_COOKIE_SECRET="$SECRET" \
    "$PYTHON" -m streamlit run "$ROOT/streamlit_app.py" --server.address 127.0.0.1 --server.port "${PORTS[$i]}" \
    --server.headless true --browser.gatherUsageStats false
done
for i in "${!PORTS[@]}"; do
  wait_until 120 "web$((i + 1))" http_ok "http://127.0.0.1:${PORTS[$i]}/_stcore/health"
done

# 3. the balancer
CFG="$RUN_DIR/haproxy.cfg"
{
  cat <<EOF
global
    maxconn 4096
    hard-stop-after 5s

defaults
    mode http
    option forwardfor
    timeout connect 5s
    timeout client 60s
    timeout server 300s
    timeout tunnel 2h
    timeout http-keep-alive 10s

frontend classroom
    bind $ADDRESS:$PORT
    default_backend web

backend web
    balance roundrobin
    # a session's first request picks a replica; the cookie keeps its websocket, uploads and media there
    cookie EXPLAINER_SRV insert indirect nocache httponly
    option httpchk GET /_stcore/health
    http-response set-header X-Explainer-Replica %s
EOF
  for i in "${!PORTS[@]}"; do
    echo "    server web$((i + 1)) 127.0.0.1:${PORTS[$i]} check inter 2s cookie web$((i + 1))"
  done
} > "$CFG"
"$HAPROXY" -c -q -f "$CFG"
start haproxy "$RUN_DIR/haproxy.log" "$HAPROXY" -db -f "$CFG"
CHECK_HOST="$ADDRESS"; [[ "$ADDRESS" == 0.0.0.0 || "$ADDRESS" == "*" ]] && CHECK_HOST=127.0.0.1
wait_until 30 "haproxy" http_ok "http://$CHECK_HOST:$PORT/_stcore/health"

echo "ready: http://$ADDRESS:$PORT/ (${#PORTS[@]} replicas, $WORKERS Dask workers, scheduler $SCHEDULER, logs $RUN_DIR)"
# run until a signal, or until any part dies (then stop the rest and fail)
set +e
wait -n "${PIDS[@]}"
status=$?
echo "a process exited (status $status): stopping everything" >&2
exit 1
