#!/usr/bin/env bash
# make bench-nginx: the gateway benchmark of issue 10. Three one-worker nginx gateways, each
# pinned to core 0, answer GET /hp by fetching one heat pump from the same fixed-body upstream
# (bench/fixed_server.sh, pinned to core 1) and answering three of its fields:
#   proxy   proxy_pass with upstream keepalive, no Lua (the limit; it answers the whole body)
#   resty   lua-resty-http request_uri (keepalive pool) + cjson.decode (../shared/vendor, unmodified)
#   podero  podero inside nginx (podero.ngx)
# wrk -t1 -c32 -d5s on core 1 drives each; three rounds, interleaved, in a rotating order; the
# gateway's CPU per request is utime+stime of its worker (/proc/PID/stat) over the run divided
# by the requests. Then fetch_heat_pumps of 1 000 heat pumps at 50 ms latency (the sandbox),
# concurrency 32, from a handler of the podero gateway (ideal 1000 / 32 x 0.05 = 1.5625 s).
# About two minutes; loopback only; everything it starts is stopped on exit.
# Results: bench/out/gateway.md (the table) and bench/out/gateway.tsv (every run).
# Env: GW_SECONDS (5), GW_ROUNDS (3), GW_CONNECTIONS (32), PODERO_VENDOR (../shared/vendor).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOP="$(cd "$HERE/.." && pwd)"
VENDOR="$(cd "${PODERO_VENDOR:-$TOP/../shared/vendor}" 2>/dev/null && pwd)" ||
  { echo "bench-nginx: no ../shared/vendor (lua-resty-http); set PODERO_VENDOR" >&2; exit 1; }
[ -r "$VENDOR/lua-resty-http/lib/resty/http.lua" ] || { echo "bench-nginx: $VENDOR lacks lua-resty-http" >&2; exit 1; }
# shellcheck source=../scripts/proc.sh
. "$TOP/scripts/proc.sh"
# shellcheck source=../scripts/nginx-conf.sh
. "$TOP/scripts/nginx-conf.sh"
SECONDS_PER_RUN="${GW_SECONDS:-5}"
ROUNDS="${GW_ROUNDS:-3}"
CONNS="${GW_CONNECTIONS:-32}"
MOD_DIR=/usr/lib/nginx/modules
OUT="$HERE/out"
mkdir -p "$OUT"
work="$(mktemp -d "${TMPDIR:-/tmp}/podero-gateway.XXXXXX")"
gateways=""

cleanup() {
  local g pid
  for g in $gateways; do
    pid="$(cat "$work/$g/nginx.pid" 2>/dev/null || true)"
    [ -n "$pid" ] && proc_stop "$pid" || true
  done
  bash "$HERE/fixed_server.sh" stop "$work/up" >/dev/null 2>&1 || true
  bash "$TOP/sandbox/sandbox.sh" stop "$work/sb" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

command -v wrk >/dev/null || { echo "bench-nginx: wrk is missing (apt-get install wrk)" >&2; exit 1; }
TOKEN=b3e1f0c2a9d84e6f8a7b5c4d3e2f1a0b9c8d7e6f   # what fixed_server.sh's token endpoint answers
HP_PATH=/api/partners/v2.0/org/c871d975-416e-4563-b526-5e1fc9c9e070/users/19c004ae-e335-471e-a7dc-909929f8b8e2/heat-pumps/fdbcff62-b5fa-4d2d-8dff-7f1a1468001a

# the upstream, on core 1 with wrk
UP="$(FIXED_WORKERS=1 bash "$HERE/fixed_server.sh" start "$work/up" | tail -n 1)"
up_pid="$(cat "$work/up/nginx.pid")"
for p in $up_pid $(proc_children "$up_pid"); do taskset -pc 1 "$p" >/dev/null; done

# the sandbox, for the fleet run (50 ms per answer)
SB="$(SANDBOX_TLS=0 bash "$TOP/sandbox/sandbox.sh" start "$work/sb")"
curl -fsS -o /dev/null -d '{"latency_ms":50}' "$SB/_sandbox/config"
curl -fsS "$SB/_sandbox/seed" | lua5.4 -e '
  local j = require("cjson").decode(io.read("a"))
  for _, o in ipairs(j.orgs) do for _, u in ipairs(o.users) do if not u.deleted then
    for _, h in ipairs(u.heat_pumps) do if not h.deleted then print(o.id, u.id, h.id) end end
  end end end' > "$work/refs.txt"

hp_location() { # CONTENDER
  case "$1" in
    proxy) cat <<CONF
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "Bearer $TOKEN";
            proxy_set_header Accept application/json;
            proxy_pass http://podero_up$HP_PATH;
CONF
    ;;
    *) echo "            content_by_lua_block { require(\"handlers\").$1() }" ;;
  esac
}

start_gateway() { # CONTENDER
  local name="$1" dir="$work/$1" port
  mkdir -p "$dir/logs" "$dir/temp"
  for _ in $(seq 1 20); do
    port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40001 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
    cat >"$dir/nginx.conf" <<CONF
$(nginx_lua_daemon "$dir" 1 "$MOD_DIR")
worker_cpu_affinity 01;
env GW_UPSTREAM; env GW_TOKEN; env GW_SANDBOX; env GW_REFS;
events { worker_connections 4096; }
http {
    access_log off;
    default_type text/plain;
$(nginx_temp_paths "$dir")
    keepalive_requests 1000000;
    lua_package_path "$HERE/gateway/?.lua;$TOP/lua/?.lua;$TOP/lua/?/init.lua;$VENDOR/lua-resty-http/lib/?.lua;$VENDOR/lua-resty-string/lib/?.lua;/usr/share/lua/5.1/?.lua;/usr/share/lua/5.1/?/init.lua;;";
    lua_package_cpath "$TOP/build/luajit/?.so;/usr/lib/x86_64-linux-gnu/lua/5.1/?.so;;";
    lua_shared_dict podero_tokens 1m;
    lua_socket_log_errors off;
    init_by_lua_block { require("podero") }
    upstream podero_up { server ${UP#http://}; keepalive 64; }
    server {
        listen 127.0.0.1:$port;
        location = /hp {
$(hp_location "$name")
        }
        location = /fleet { content_by_lua_block { require("handlers").fleet() } }
    }
}
CONF
    if GW_UPSTREAM="$UP" GW_TOKEN="$TOKEN" GW_SANDBOX="$SB" GW_REFS="$work/refs.txt" \
       nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" 2>"$dir/logs/start.log"; then
      echo "http://127.0.0.1:$port" >"$dir/url"
      gateways="$gateways $name"
      for _ in $(seq 1 50); do
        curl -fsS -o /dev/null "http://127.0.0.1:$port/hp" 2>/dev/null && return 0
        sleep 0.1
      done
      echo "bench-nginx: the $name gateway does not answer /hp" >&2
      tail -n 20 "$dir/logs/error.log" >&2
      exit 1
    fi
    grep -q "Address already in use" "$dir/logs/start.log" || break
  done
  cat "$dir/logs/start.log" >&2
  exit 1
}

worker_ticks() { # CONTENDER -> utime+stime of its worker, in clock ticks
  local master w stat rest
  master="$(cat "$work/$1/nginx.pid")"
  w="$(proc_children "$master")"
  w="${w# }"
  w="${w%% *}"
  stat="$(cat "/proc/$w/stat")"
  rest="${stat##*) }"
  # fields after the comm: state(3) ... utime(14) stime(15) -> 12th and 13th here
  echo "$rest" | awk '{ print $12 + $13 }'
}

CONTENDERS="${GW_CONTENDERS:-proxy resty podero}"
for c in $CONTENDERS; do start_gateway "$c"; done
TICK="$(getconf CLK_TCK)"
echo "bench-nginx: upstream $UP; gateways:$(for c in $CONTENDERS; do printf ' %s %s' "$c" "$(cat "$work/$c/url")"; done)" >&2

# a short warm-up of each (JIT, connection pools, the token)
for c in $CONTENDERS; do taskset -c 1 wrk -t1 -c"$CONNS" -d1s "$(cat "$work/$c/url")/hp" >/dev/null; done

printf 'round\tcontender\trequests\tseconds\treq_per_s\tcpu_us_per_req\n' >"$OUT/gateway.tsv"
order="$CONTENDERS"
for r in $(seq 1 "$ROUNDS"); do
  for c in $order; do
    url="$(cat "$work/$c/url")/hp"
    t0="$(worker_ticks "$c")"
    out="$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${SECONDS_PER_RUN}s" "$url")"
    t1="$(worker_ticks "$c")"
    reqs="$(echo "$out" | awk '/requests in/ { print $1 }')"
    secs="$(echo "$out" | awk '/requests in/ { sub(/s,?$/, "", $4); print $4 }')"
    errs="$(echo "$out" | awk '/Non-2xx|Socket errors/ { print }')"
    [ -z "$errs" ] || { echo "bench-nginx: $c: $errs" >&2; exit 1; }
    awk -v r="$r" -v c="$c" -v n="$reqs" -v s="$secs" -v dt="$((t1 - t0))" -v tick="$TICK" \
      'BEGIN { printf "%s\t%s\t%d\t%.2f\t%.0f\t%.1f\n", r, c, n, s, n / s, dt / tick / n * 1e6 }' >>"$OUT/gateway.tsv"
    echo "  round $r $c: $(tail -n 1 "$OUT/gateway.tsv" | cut -f5) req/s" >&2
  done
  order="$(echo "$order" | awk '{ printf "%s", $2; for (i = 3; i <= NF; i++) printf " %s", $i; printf " %s", $1 }')"
done

fleet="$(curl -fsS -m 120 "$(cat "$work/podero/url")/fleet?n=1000&c=32")"

lua5.4 - "$OUT/gateway.tsv" "$fleet" "$SECONDS_PER_RUN" "$CONNS" <<'LUA' | tee "$OUT/gateway.md"
local tsv, fleet, secs, conns = arg[1], arg[2], arg[3], arg[4]
local runs = {}
for line in io.lines(tsv) do
  local _, c, _, _, rps, cpu = line:match("^(%d+)\t(%a+)\t(%d+)\t([%d.]+)\t([%d.]+)\t([%d.]+)$")
  if c then
    runs[c] = runs[c] or { rps = {}, cpu = {} }
    table.insert(runs[c].rps, tonumber(rps))
    table.insert(runs[c].cpu, tonumber(cpu))
  end
end
local function median(t)
  table.sort(t)
  local n = #t
  return n % 2 == 1 and t[(n + 1) // 2] or (t[n // 2] + t[n // 2 + 1]) / 2
end
local function range(t) return string.format("%.0f - %.0f", t[1], t[#t]) end
local m = {}
for c, v in pairs(runs) do
  m[c] = { rps = median(v.rps), cpu = median(v.cpu), rps_range = range(v.rps), cpu_range = range(v.cpu) }
end
print(string.format("## gateway: one nginx worker on core 0, wrk -t1 -c%s -d%ss on core 1, %d rounds (medians)", conns, secs, #runs.proxy.rps))
print("")
print("| contender | req/s | gateway CPU per request (us) | req/s vs resty | CPU vs resty | CPU vs proxy_pass |")
print("|---|---|---|---|---|---|")
local names = { proxy = "`proxy_pass`, upstream keepalive (the limit)", resty = "lua-resty-http `request_uri` + `cjson.decode`",
                podero = "podero (`podero.ngx`)" }
for _, c in ipairs({ "proxy", "resty", "podero" }) do
  local v = m[c]
  print(string.format("| %s | %.0f (%s) | %.1f (%s) | %.2fx | %.2fx | %.2fx |", names[c], v.rps, v.rps_range, v.cpu,
    v.cpu_range, v.rps / m.resty.rps, v.cpu / m.resty.cpu, v.cpu / m.proxy.cpu))
end
local f = require("cjson").decode(fleet)
print("")
print(string.format("fetch_heat_pumps of %d at 50 ms latency, concurrency %d, from a handler: %.3f s (%d failed); "
  .. "ideal %.4f s: %.2fx", f.n, f.concurrency, f.seconds, f.failed, f.n / f.concurrency * 0.05,
  f.seconds / (f.n / f.concurrency * 0.05)))
LUA
