# Shell helpers to run Voxflow's services as local processes (sourced by scripts/demo and
# scripts/run). Each service listens on a free loopback port unless a port is given.

STACK_DIR=${STACK_DIR:-$(mktemp -d -t voxflow.XXXXXX)}
STACK_PIDS=()

# start_service NAME BINARY [ARGS...]: starts BINARY, waits for its "listening on" line, and sets
# the variable ADDR_<NAME> to its HOST:PORT. Logs go to $STACK_DIR/NAME.log.
start_service() {
  local name=$1 binary=$2
  shift 2
  "$binary" "$@" >"$STACK_DIR/$name.out" 2>"$STACK_DIR/$name.log" &
  local pid=$!
  STACK_PIDS+=("$pid")
  local line="" waited=0
  # Wait on the process's own output (checked every 0.1 s), at most 60 s.
  while [ -z "$line" ]; do
    line=$(grep -m1 " listening on " "$STACK_DIR/$name.out" 2>/dev/null || true)
    if [ -n "$line" ]; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "error: $name exited during start-up; its log ($STACK_DIR/$name.log):" >&2
      tail -n 20 "$STACK_DIR/$name.log" >&2
      return 1
    fi
    if [ "$waited" -ge 600 ]; then
      echo "error: $name did not start within 60 s (log: $STACK_DIR/$name.log)" >&2
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  printf -v "ADDR_${name^^}" '%s' "${line##* listening on }"
}

# stop_services: SIGTERM to every started service, then wait for them (they drain and exit 0).
stop_services() {
  local pid
  for pid in "${STACK_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${STACK_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  STACK_PIDS=()
}
