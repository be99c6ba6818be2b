# Process helpers for the scripts that start and stop nginx (sandbox/sandbox.sh,
# spec-nginx/nginx.sh), sourced by bash. Only kill -0 and /proc: no procps, which minimal
# images (debootstrap minbase, containers) do not have.

# proc_alive PID -> 0 while the process exists and is not a zombie
proc_alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local stat rest
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0   # no /proc: kill -0 is all we know
  rest="${stat##*) }"                                       # after "pid (comm) "
  [ "${rest%% *}" != Z ]
}

# proc_children PID -> the pids whose parent is PID, on one line
proc_children() {
  local f stat rest ppid out=""
  for f in /proc/[0-9]*/stat; do
    stat="$(cat "$f" 2>/dev/null)" || continue
    rest="${stat##*) }"
    rest="${rest#* }"
    ppid="${rest%% *}"
    [ "$ppid" = "$1" ] && out="$out ${stat%% *}"
  done
  echo "$out"
}

# proc_wait_gone TICKS PID...: 0 as soon as none of the PIDs runs, 1 after TICKS x 50 ms
proc_wait_gone() {
  local ticks="$1" p any
  shift
  for _ in $(seq 1 "$ticks"); do
    any=0
    for p in "$@"; do if proc_alive "$p"; then any=1; fi; done
    [ "$any" = 0 ] && return 0
    sleep 0.05
  done
  return 1
}

# proc_stop PID: TERM, wait up to 5 s for it and its children, then KILL; returns 1 (and says
# so) when something still runs, so that a caller never reports a stop it did not make
proc_stop() {
  local pid="$1" children p
  children="$(proc_children "$pid")"
  kill -TERM "$pid" 2>/dev/null || true
  # shellcheck disable=SC2086
  proc_wait_gone 100 $pid $children && return 0
  for p in $pid $children; do kill -KILL "$p" 2>/dev/null || true; done
  # shellcheck disable=SC2086
  proc_wait_gone 40 $pid $children && return 0
  echo "could not stop process $pid (or its children:$children)" >&2
  return 1
}
