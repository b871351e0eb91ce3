#!/usr/bin/env bash
# A whole class on one machine: N Streamlit processes behind HAProxy (cookie-sticky, health-checked), one Dask
# scheduler and its workers for the trainings, all kept running by supervisord. One command starts it all;
# Ctrl-C (or SIGTERM) stops it all.
#
#   deploy/classroom.sh                                  # 2 replicas on :8500, scheduler :8786, 1 worker
#   deploy/classroom.sh --replicas 4 --workers 2 --port 80 --address 0.0.0.0
#
# Options (defaults in brackets):
#   --replicas N          Streamlit processes [2]            --first-port P   their ports P, P+1, … [8601]
#   --replica-ports a,b   explicit replica ports (instead of --replicas/--first-port)
#   --port P              the balancer's port (what students open) [8500]
#   --address A           the balancer's address [127.0.0.1]; 0.0.0.0 for a classroom network
#   --scheduler-port P    Dask scheduler [8786]               --workers N    Dask worker processes [1], 0 for none
#   --scheduler-host H    the scheduler's address [127.0.0.1]; beyond loopback (workers on other machines)
#                         it requires TLS, which is then turned on
#   --tls                 Dask TLS with client certificates (mutual authentication), also on loopback
#   --tls-dir D           the certificates (deploy/make-certs.sh makes them there if D has none) [RUN_DIR/tls]
#   --torch-threads T     PyTorch threads per worker [cores / workers]
#   --run-dir D           logs, haproxy.cfg, supervisord.conf, Dask spill space [a new mktemp -d]
#   --database URL        the database of kept runs and class polls, shared by every replica: a PostgreSQL URL
#                         (postgresql://user:password@host/db) for a course on several machines [the per-user
#                         SQLite file, one machine]; passed to the replicas as EXPLAINER_DATABASE_URL, its schema
#                         created before they start; EXPLAINER_DATABASE_URL already in the environment is the
#                         default (so the password need not be on a command line, where `ps` shows it)
# Several machines (README, "A course on several machines"): on the balancer's machine add the other machines'
# replicas with --remote-replicas; on each other machine run replicas (and workers) only, joining that scheduler:
#   --remote-replicas h:p,…  more servers for this balancer: another machine's replicas
#   --scheduler ADDR      join this Dask scheduler (another machine's, e.g. tls://10.0.0.1:8786) instead of
#                         starting one; --workers 0 runs no worker here
#   --replica-address A   the replicas' address [127.0.0.1]; another machine's balancer must reach them
#   --no-balancer         no HAProxy here (the other machine's balancer lists these replicas)
# Environment: PYTHON (the interpreter with the app's requirements; default .venv/bin/python, else python3),
# MNIST_DIR (passed to the replicas and workers), HAPROXY [/usr/sbin/haproxy], SUPERVISORD [Debian's
# /usr/bin/supervisord, else the one beside PYTHON].
#
# supervisord (RUN_DIR/supervisord.conf) restarts any process that dies: a replica, the scheduler, a worker
# (its nanny; the nanny restarts the worker process itself), HAProxy. HAProxy checks each replica's
# /_stcore/health every second and sends the students of a dead one to a live one (their browser reconnects
# and reruns the page from its URL). `supervisorctl -c RUN_DIR/supervisord.conf status` shows the processes.
# Replicas, scheduler and workers listen on 127.0.0.1 only (unless --scheduler-host or --replica-address) and the Dask processes
# serve no HTTP; only HAProxy faces the network. Stickiness is by cookie (EXPLAINER_SRV), not by client IP: a
# classroom often shares one public IP, and a session's websocket, uploads and media must reach its process.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPLICAS=2 FIRST_PORT=8601 REPLICA_PORTS="" PORT=8500 ADDRESS=127.0.0.1
SCHED_PORT=8786 SCHED_HOST=127.0.0.1 WORKERS=1 TORCH_THREADS="" RUN_DIR="" TLS=0 TLS_DIR=""
DATABASE="${EXPLAINER_DATABASE_URL:-}" REMOTE_REPLICAS="" JOIN_SCHEDULER="" REPLICA_ADDRESS=127.0.0.1 BALANCER=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --replicas) REPLICAS="$2"; shift 2 ;;
    --first-port) FIRST_PORT="$2"; shift 2 ;;
    --replica-ports) REPLICA_PORTS="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    --address) ADDRESS="$2"; shift 2 ;;
    --scheduler-port) SCHED_PORT="$2"; shift 2 ;;
    --scheduler-host) SCHED_HOST="$2"; shift 2 ;;
    --tls) TLS=1; shift ;;
    --tls-dir) TLS_DIR="$2"; shift 2 ;;
    --workers) WORKERS="$2"; shift 2 ;;
    --torch-threads) TORCH_THREADS="$2"; shift 2 ;;
    --run-dir) RUN_DIR="$2"; shift 2 ;;
    --database) DATABASE="$2"; shift 2 ;;
    --remote-replicas) REMOTE_REPLICAS="$2"; shift 2 ;;
    --scheduler) JOIN_SCHEDULER="$2"; shift 2 ;;
    --replica-address) REPLICA_ADDRESS="$2"; shift 2 ;;
    --no-balancer) BALANCER=0; shift ;;
    -h|--help) sed -n '2,42p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
BIN="$(dirname "$(command -v "$PYTHON")")"
HAPROXY="${HAPROXY:-/usr/sbin/haproxy}"
DASK="$BIN/dask"
[[ -x "$DASK" ]] || DASK="$(command -v dask || true)"
[[ -n "$DASK" ]] || { echo "the dask CLI (package distributed) is not installed for $PYTHON" >&2; exit 1; }
[[ $BALANCER -eq 0 || -x "$HAPROXY" ]] || { echo "haproxy not found at $HAPROXY (Debian: apt install haproxy)" >&2; exit 1; }
if [[ -z "${SUPERVISORD:-}" ]]; then
  if [[ -x /usr/bin/supervisord ]]; then SUPERVISORD=/usr/bin/supervisord; else SUPERVISORD="$BIN/supervisord"; fi
fi
[[ -x "$SUPERVISORD" ]] || { echo "supervisord not found (Debian: apt install supervisor)" >&2; exit 1; }
SUPERVISORCTL="$(dirname "$SUPERVISORD")/supervisorctl"

if [[ -n "$REPLICA_PORTS" ]]; then
  IFS=, read -r -a PORTS <<< "$REPLICA_PORTS"
else
  PORTS=(); for ((i = 0; i < REPLICAS; i++)); do PORTS+=($((FIRST_PORT + i))); done
fi
[[ ${#PORTS[@]} -ge 1 && $WORKERS -ge 0 ]] || { echo "need at least one replica" >&2; exit 2; }
[[ $WORKERS -ge 1 ]] || echo "no Dask worker on this machine (--workers 0): trainings wait for another machine's workers"
[[ -n "$REMOTE_REPLICAS" && $BALANCER -eq 0 ]] && { echo "--remote-replicas is for the balancer's machine (not with --no-balancer)" >&2; exit 2; }
CORES="$(nproc)"
[[ -n "$TORCH_THREADS" ]] || TORCH_THREADS=$(( WORKERS > 0 && CORES / WORKERS > 0 ? CORES / WORKERS : 1 ))
[[ -n "$RUN_DIR" ]] || RUN_DIR="$(mktemp -d -t explainer-classroom.XXXXXX)"
# supervisord's control socket: a Unix socket's path has at most 107 bytes, so a long --run-dir gets one in a
# short private folder of its own (removed at the stop)
SOCK="$RUN_DIR/supervisor.sock" SOCK_DIR=""
if [[ ${#SOCK} -gt 100 ]]; then SOCK_DIR="$(mktemp -d -t ce-sup.XXXXXX)"; SOCK="$SOCK_DIR/s.sock"; fi
mkdir -p "$RUN_DIR"
RUN_DIR="$(cd "$RUN_DIR" && pwd)"
# one secret for all replicas (Streamlit signs its cookies with it), new each start
# (several machines: give each the same one in STREAMLIT_SERVER_COOKIE_SECRET, a student may fail over to another's)
SECRET="${STREAMLIT_SERVER_COOKIE_SECRET:-$("$PYTHON" -c 'import secrets; print(secrets.token_hex(32))')}"
# every process started here carries this mark in its environment: the last resort of the stop finds them by it
TAG="$("$PYTHON" -c 'import secrets; print(secrets.token_hex(8))')"

case "$SCHED_HOST" in 127.*|localhost|::1) ;; *) TLS=1 ;; esac
PROTO=tcp
if [[ $TLS -eq 1 ]]; then
  PROTO=tls
  [[ -n "$TLS_DIR" ]] || TLS_DIR="$RUN_DIR/tls"
  [[ -f "$TLS_DIR/ca.pem" ]] || "$ROOT/deploy/make-certs.sh" "$TLS_DIR" "$SCHED_HOST" >/dev/null
  TLS_DIR="$(cd "$TLS_DIR" && pwd)"
  # the web processes (and this script's readiness check) are Dask clients: their certificate comes from Dask's config
  export DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION=True
  export DASK_DISTRIBUTED__COMM__TLS__CA_FILE="$TLS_DIR/ca.pem"
  export DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT="$TLS_DIR/client.pem"
  export DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY="$TLS_DIR/client-key.pem"
fi
CONTACT_HOST="$SCHED_HOST"; [[ "$SCHED_HOST" == 0.0.0.0 ]] && CONTACT_HOST=127.0.0.1
SCHEDULER="$PROTO://$CONTACT_HOST:$SCHED_PORT"
if [[ -n "$JOIN_SCHEDULER" ]]; then  # another machine's scheduler: its protocol decides TLS (certificates: --tls-dir)
  SCHEDULER="$JOIN_SCHEDULER"
  if [[ "$SCHEDULER" == tls://* && $TLS -eq 0 ]]; then
    echo "joining a TLS scheduler: pass --tls --tls-dir D with the course's certificates (copied from its machine)" >&2; exit 2
  fi
fi

export MNIST_DIR="${MNIST_DIR:-$ROOT/../shared/mnist}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"   # the workers import explainer/ (and its Dask preload)
# A closed engine: no HTTP routes on the scheduler or the workers, and explainer.engine.jobcluster's preload closes
# the HTTP listener Dask opens anyway (see that module). Set a list of routes here to ask for them.
export DASK_DISTRIBUTED__SCHEDULER__HTTP__ROUTES='[]' DASK_DISTRIBUTED__WORKER__HTTP__ROUTES='[]'

if [[ -n "$DATABASE" ]]; then
  # in the environment (not in supervisord.conf or a command line): every process started here inherits it
  export EXPLAINER_DATABASE_URL="$DATABASE"
  # the schema is created (or migrated) once, here, and an unreachable database stops the start with its reason
  "$PYTHON" - <<'EOF' || { echo "the database (--database) can't be used: see the reason above" >&2; exit 1; }
import os
import sys
try:
    from explainer.engine.runstore import RunStore
    from explainer.polls import Polls
    RunStore(), Polls()
except Exception as exc:  # the reason in one line, without the URL (its password): a URL that can't be parsed is
    line = (str(exc).strip().splitlines() or [''])[0]  # quoted whole in SQLAlchemy's message
    sys.exit(f"{type(exc).__name__}: {line.replace(os.environ['EXPLAINER_DATABASE_URL'], '<the --database URL>')}")
EOF
fi

# ------------------------------------------------------------------ the configurations
CFG="$RUN_DIR/haproxy.cfg"
{
  cat <<EOF
global
    maxconn 4096
    hard-stop-after 5s
    # into haproxy.log (supervisord keeps it): replicas going down and up, and failed requests only
    log stdout format raw local0 notice

defaults
    mode http
    log global
    option httplog
    option dontlog-normal
    option forwardfor
    # a request for a dead replica is sent again, to another one (students of a crashed process reconnect)
    retries 3
    option redispatch 1
    # also when a kept-alive connection to a replica that just died gets no answer (else a 502)
    retry-on conn-failure empty-response
    timeout connect 2s
    timeout client 60s
    timeout server 300s
    timeout tunnel 2h
    timeout http-keep-alive 10s
    # a busy replica may answer its health check late: that is not a dead one (a dead one refuses at once)
    timeout check 5s

frontend classroom
    bind $ADDRESS:$PORT
    default_backend web

backend web
    balance roundrobin
    # a session's first request picks a replica; the cookie keeps its websocket, uploads and media there. When
    # its replica is down, HAProxy picks a live one and sets the cookie anew.
    cookie EXPLAINER_SRV insert indirect nocache httponly
    option httpchk GET /_stcore/health
    http-check expect status 200
    # health checked every second; down after 3 failed checks, or at once when a connection to it fails;
    # up again after 2 good checks (a restarted replica)
    default-server check inter 1s fastinter 500ms downinter 1s fall 3 rise 2 observe layer4 error-limit 1 on-error mark-down
    http-response set-header X-Explainer-Replica %s
EOF
  for i in "${!PORTS[@]}"; do
    echo "    server web$((i + 1)) $REPLICA_ADDRESS:${PORTS[$i]} cookie web$((i + 1))"
  done
  if [[ -n "$REMOTE_REPLICAS" ]]; then
    IFS=, read -r -a REMOTE <<< "$REMOTE_REPLICAS"
    for i in "${!REMOTE[@]}"; do
      echo "    server remote$((i + 1)) ${REMOTE[$i]} cookie remote$((i + 1))"
    done
  fi
} > "$CFG"
if [[ $BALANCER -eq 1 ]]; then "$HAPROXY" -c -q -f "$CFG"; else rm -f "$CFG"; fi

if [[ $TLS -eq 1 ]]; then
  SCHED_TLS="--tls-ca-file $TLS_DIR/ca.pem --tls-cert $TLS_DIR/scheduler.pem --tls-key $TLS_DIR/scheduler-key.pem"
  WORKER_TLS="--tls-ca-file $TLS_DIR/ca.pem --tls-cert $TLS_DIR/worker.pem --tls-key $TLS_DIR/worker-key.pem"
else
  SCHED_TLS="" WORKER_TLS=""
fi
SUP="$RUN_DIR/supervisord.conf"
program() {  # program NAME PRIORITY STOPSIGNAL COMMAND — one [program:NAME] section
  cat <<EOF

[program:$1]
command=$4
priority=$2
autostart=true
; restarted whenever it exits, however (a crash, a kill, the scheduler gone); crash loops back off
autorestart=true
startsecs=3
startretries=20
stopsignal=$3
stopwaitsecs=30
; the signal goes to its whole process group (Streamlit's and the nanny's children too)
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile=$RUN_DIR/$1.log
stdout_logfile_maxbytes=20MB
stdout_logfile_backups=2
EOF
}
{
  cat <<EOF
; written by deploy/classroom.sh; supervisorctl -c $SUP status|restart NAME|tail NAME
[supervisord]
nodaemon=true
logfile=$RUN_DIR/supervisord.log
pidfile=$RUN_DIR/supervisord.pid
childlogdir=$RUN_DIR
directory=$ROOT
identifier=explainer-classroom

[unix_http_server]
file=$SOCK
chmod=0700

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://$SOCK
EOF
  # started in priority order, stopped in reverse: the balancer first (no new clicks), then the web processes,
  # the workers (a running training is cancelled there), the scheduler last
  if [[ -z "$JOIN_SCHEDULER" ]]; then
    program scheduler 10 TERM "$DASK scheduler --host $SCHED_HOST --port $SCHED_PORT --protocol $PROTO --no-dashboard --dashboard-address 127.0.0.1:0 --preload explainer.engine.jobcluster $SCHED_TLS"
  fi
  for ((w = 1; w <= WORKERS; w++)); do
    program "worker$w" 20 TERM "env EXPLAINER_TORCH_THREADS=$TORCH_THREADS OMP_NUM_THREADS=$TORCH_THREADS $DASK worker $SCHEDULER --nworkers 1 --nthreads 1 --resources training=1 --host 127.0.0.1 --no-dashboard --dashboard-address 127.0.0.1:0 --preload explainer.engine.jobcluster --local-directory $RUN_DIR/dask --name explainer-worker-$w $WORKER_TLS"
  done
  for i in "${!PORTS[@]}"; do
    program "web$((i + 1))" 30 TERM "env EXPLAINER_DASK_SCHEDULER=$SCHEDULER STREAMLIT_SERVER_COOKIE_SECRET=$SECRET $PYTHON -m streamlit run $ROOT/streamlit_app.py --server.address $REPLICA_ADDRESS --server.port ${PORTS[$i]} --server.headless true --browser.gatherUsageStats false"
  done
  # HAProxy: SIGUSR1 is its graceful stop (open websockets get hard-stop-after)
  if [[ $BALANCER -eq 1 ]]; then
    program haproxy 40 USR1 "$HAPROXY -db -f $CFG"
  fi
} > "$SUP"
chmod 0600 "$SUP"   # it holds the cookie secret

# ------------------------------------------------------------------ run, stop
SUP_PID=""
stopping=0
sweep() {  # the last resort: whatever still carries this run's mark is ended (none after a clean stop)
  local pids pid
  pids="$(grep -lzx "EXPLAINER_CLASSROOM=$TAG" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 || true)"
  [[ -z "$pids" ]] && return 0
  echo "processes left after supervisord: $(echo $pids): SIGTERM, then SIGKILL" >&2
  for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 3
  for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
}
stop() {
  [[ $stopping -eq 1 ]] && return
  stopping=1
  trap '' INT TERM
  if [[ -n "$SUP_PID" ]] && kill -0 "$SUP_PID" 2>/dev/null; then
    echo "stopping (supervisord pid $SUP_PID stops each process, up to 30 s each, then SIGKILL)"
    kill -TERM "$SUP_PID" 2>/dev/null || true
    local deadline=$((SECONDS + 200))
    while kill -0 "$SUP_PID" 2>/dev/null && [[ $SECONDS -lt $deadline ]]; do sleep 0.2; done
    kill -0 "$SUP_PID" 2>/dev/null && kill -KILL "$SUP_PID" 2>/dev/null
    wait "$SUP_PID" 2>/dev/null || true
  fi
  sweep
  [[ -n "$SOCK_DIR" ]] && rm -rf "$SOCK_DIR"
  echo "stopped; logs in $RUN_DIR"
}
trap 'stop; exit 0' INT TERM
trap 'stop' EXIT

# supervisord gets SIGTERM should this script die without stopping it (SIGKILL, a closed terminal): it then stops
# everything as on Ctrl-C (setpriv is util-linux's, in every Debian)
PDEATH=(); command -v setpriv >/dev/null 2>&1 && PDEATH=(setpriv --pdeathsig TERM --)
EXPLAINER_CLASSROOM="$TAG" "${PDEATH[@]}" "$SUPERVISORD" -c "$SUP" &
SUP_PID=$!
echo "started supervisord pid $SUP_PID (config $SUP)"

wait_until() {  # wait_until SECONDS DESCRIPTION CMD...
  local limit="$1" what="$2"; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if [[ $SECONDS -ge $deadline ]]; then echo "$what: not ready in ${limit} s (logs in $RUN_DIR)" >&2; exit 1; fi
    kill -0 "$SUP_PID" 2>/dev/null || { echo "supervisord exited (log in $RUN_DIR)" >&2; exit 1; }
    sleep 0.5
  done
}
http_ok() { "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1"; }
# routed URL SERVER: the balancer sends a request that carries SERVER's cookie to SERVER (it has marked it up: a
# replica that answers on its own port may still be down in HAProxy's view for two more checks, and meanwhile its
# students would be sent to another replica)
routed() {
  "$PYTHON" - "$1" "$2" <<'EOF'
import sys, urllib.request
req = urllib.request.Request(sys.argv[1], headers={"Cookie": f"EXPLAINER_SRV={sys.argv[2]}"})
with urllib.request.urlopen(req, timeout=2) as r:
    sys.exit(0 if r.headers.get("X-Explainer-Replica") == sys.argv[2] else 1)
EOF
}
dask_ok() {
  "$PYTHON" - "$SCHEDULER" "$1" <<'EOF'
import sys
from distributed import Client
with Client(sys.argv[1], timeout=5) as c:
    sys.exit(0 if len(c.scheduler_info(n_workers=-1)["workers"]) >= int(sys.argv[2]) else 1)
EOF
}

REPLICA_CHECK="$REPLICA_ADDRESS"; [[ "$REPLICA_ADDRESS" == 0.0.0.0 ]] && REPLICA_CHECK=127.0.0.1
wait_until 120 "dask workers" dask_ok "$WORKERS"
for i in "${!PORTS[@]}"; do
  wait_until 120 "web$((i + 1))" http_ok "http://$REPLICA_CHECK:${PORTS[$i]}/_stcore/health"
done
CHECK_HOST="$ADDRESS"; [[ "$ADDRESS" == 0.0.0.0 || "$ADDRESS" == "*" ]] && CHECK_HOST=127.0.0.1
if [[ $BALANCER -eq 1 ]]; then
  for i in "${!PORTS[@]}"; do
    wait_until 30 "haproxy to web$((i + 1))" routed "http://$CHECK_HOST:$PORT/_stcore/health" "web$((i + 1))"
  done
  FRONT="http://$ADDRESS:$PORT/"
else
  FRONT="replicas $REPLICA_ADDRESS:${PORTS[*]} for another machine's balancer"
fi

echo "ready: $FRONT (${#PORTS[@]} replicas, $WORKERS Dask workers, scheduler $SCHEDULER, logs $RUN_DIR; supervisorctl -c $SUP status)"
# run until a signal; supervisord restarts whatever dies. Should supervisord itself die, stop the rest and fail.
set +e
while kill -0 "$SUP_PID" 2>/dev/null; do wait "$SUP_PID"; done
echo "supervisord exited: stopping everything" >&2
exit 1
