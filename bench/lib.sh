# Shared helpers for the bench scripts (sourced, not run): build, start/stop the server, a UDP
# discard sink for the server's RTP, and /proc sampling of the server's CPU and memory.
# Everything listens on 127.0.0.1 only. CARGO_TARGET_DIR, when set, is where the binaries are.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN="$TARGET/release/firstline"
PROBE="$TARGET/release/examples/rtp_probe"
CLK_TCK=$(getconf CLK_TCK)
PIDS_TO_KILL=()

# Kills every process this script started (by pid, never by name).
cleanup() {
    local pid
    for pid in "${PIDS_TO_KILL[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    sleep 0.5
    for pid in "${PIDS_TO_KILL[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
}

# Builds the server (and the RTP probe when "$1" = probe).
build() {
    echo "== cargo build --release (another engineer may be building too: that is noise)" >&2
    (cd "$ROOT" && cargo build --release --bin firstline) >&2
    if [[ "${1:-}" == probe ]]; then
        (cd "$ROOT" && cargo build --release --example rtp_probe) >&2
    fi
}

# A free UDP port on 127.0.0.1 (racy by nature, good enough on a quiet loopback).
free_udp_port() {
    python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Writes the bench config: no dead-peer check for media-less SIPp callers, high call limits, and
# short digit timeouts so that held calls reach hold music within ~30 s.
write_config() {
    cat >"$1" <<'EOF'
log = "warn"

[sip]
max_pending_calls = 4096

[call]
rtp_timeout_secs = 3600
max_wait_secs = 3600
max_calls = 12000

[ivr]
digit_timeout_ms = 1000
EOF
    # IVR_RECOGNIZED="" switches the recognition prompt (and its per-call open-intake lookup) off.
    printf 'recognized = "%s"\n' "${IVR_RECOGNIZED-recognized}" >>"$1"
    # Extra tables (e.g. [acd] for bench/queue); TOML forbids repeating a table, so only tables
    # not written above.
    [[ -z "${EXTRA_CONFIG:-}" ]] || printf '%s\n' "$EXTRA_CONFIG" >>"$1"
}

# start_server DIR: starts firstline with its database in DIR; sets SERVER_PID, SIP_ADDR,
# SIP_PORT, HTTP_ADDR. SERVER_FLAGS (e.g. "--demo") are added to the command line; BENCH_PG=1
# puts the database on PostgreSQL instead of SQLite; SEED_CSV=FILE imports customers first.
start_server() {
    local dir=$1
    local -a flags=()
    read -r -a flags <<<"${SERVER_FLAGS:-}"
    write_config "$dir/bench.toml"
    # BENCH_PG=1: a fresh PostgreSQL database `bench` on 127.0.0.1:5432 (trust auth) per server.
    local db="sqlite://$dir/fl.db"
    if [[ -n "${BENCH_PG:-}" ]]; then
        dropdb -h 127.0.0.1 -U postgres --if-exists bench
        createdb -h 127.0.0.1 -U postgres bench
        db="postgres://postgres@127.0.0.1:5432/bench"
    fi
    # SEED_CSV=FILE: customers imported into the fresh database before the server starts (the
    # caller-lookup comparison of issue 13), with the same binary's `admin import-customers`.
    if [[ -n "${SEED_CSV:-}" ]]; then
        "$BIN" --config "$dir/bench.toml" --database-url "$db" admin import-customers \
            "$SEED_CSV" >"$dir/seed.out" 2>&1 || { cat "$dir/seed.out" >&2; return 1; }
    fi
    (cd "$ROOT" && exec "$BIN" --config "$dir/bench.toml" --sip-listen 127.0.0.1:0 \
        --http-listen 127.0.0.1:0 --sip-tls-listen 127.0.0.1:0 --https-listen 127.0.0.1:0 \
        --database-url "$db" \
        --prompts-dir "$ROOT/ivr-prompts" "${flags[@]}") >"$dir/server.out" 2>"$dir/server.err" &
    SERVER_PID=$!
    PIDS_TO_KILL+=("$SERVER_PID")
    local i line
    for i in $(seq 1 300); do
        line=$(grep -m1 '^firstline ready' "$dir/server.out" 2>/dev/null || true)
        [[ -n "$line" ]] && break
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$dir/server.err" >&2; return 1; }
        sleep 0.1
    done
    [[ -n "$line" ]] || { echo "server not ready after 30 s" >&2; return 1; }
    SIP_ADDR=$(sed -E 's/.*sip_udp=([^ ]+).*/\1/' <<<"$line")
    SIP_PORT=${SIP_ADDR##*:}
    HTTP_ADDR=$(sed -E 's/.*http=([^ ]+).*/\1/' <<<"$line")
}

# Stops the server (SIGTERM, then SIGKILL after 15 s).
stop_server() {
    kill -TERM "$SERVER_PID" 2>/dev/null || return 0
    local i
    for i in $(seq 1 150); do
        kill -0 "$SERVER_PID" 2>/dev/null || { wait "$SERVER_PID" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    echo "server did not stop in 15 s after SIGTERM: killed" >&2
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

# start_sink: a UDP socket on 127.0.0.1 that nobody reads (small buffer): the kernel discards
# the server's RTP there. Sets SINK_PORT and SINK_PID.
start_sink() {
    SINK_PORT=$(free_udp_port)
    python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.bind(("127.0.0.1", int(sys.argv[1])))
time.sleep(900)' "$SINK_PORT" &
    SINK_PID=$!
    PIDS_TO_KILL+=("$SINK_PID")
}

# CPU ticks (utime + stime) of a process or thread stat file (fields after the "(comm)").
cpu_ticks() {
    sed -E 's/^.*\) //' "$1" 2>/dev/null | awk '{ print $12 + $13 }'
}

# kib FIELD PID: a VmRSS / VmHWM value in KiB from /proc/PID/status.
kib() {
    awk -v f="$1:" '$1 == f { print $2 }' "/proc/$2/status"
}

# thread_ticks PID: "tid comm ticks" for every thread.
thread_ticks() {
    local t
    for t in /proc/"$1"/task/*; do
        [[ -r "$t/stat" ]] || continue
        echo "${t##*/} $(tr ' ' '_' <"$t/comm") $(cpu_ticks "$t/stat")"
    done
}

# hot_threads BEFORE AFTER SECONDS: the busiest threads between two thread_ticks snapshots,
# as "comm:percent-of-one-core".
hot_threads() {
    join <(sort "$1") <(sort "$2") | awk -v s="$3" -v hz="$CLK_TCK" \
        '{ d = ($5 - $3) / hz / s * 100; if (d >= 1) printf "%s %.0f\n", $2, d }' |
        sort -k2 -nr | head -4 | awk '{ printf "%s:%s%% ", $1, $2 }'
}

# pct TICKS_BEFORE TICKS_AFTER SECONDS: CPU as percent of one core.
pct() {
    awk -v a="$1" -v b="$2" -v s="$3" -v hz="$CLK_TCK" 'BEGIN { printf "%.0f", (b - a) / hz / s * 100 }'
}

# machine_ticks: "busy total" jiffies of all CPUs from /proc/stat.
machine_ticks() {
    awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}

# machine_busy "BUSY0 TOTAL0" "BUSY1 TOTAL1": busy percent of all cores (2 cores = 200).
machine_busy() {
    local n
    n=$(nproc)
    awk -v a="$1" -v b="$2" -v n="$n" 'BEGIN { split(a, x, " "); split(b, y, " ");
        printf "%.0f", (y[1] - x[1]) / (y[2] - x[2]) * 100 * n }'
}

# median of numbers on stdin.
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bridged_calls DB: calls bridged to an agent right now (call_connected without call_ended,
# from the events table; read-only).
bridged_calls() {
    sqlite3 "file:$1?mode=ro" "select (select count(*) from events where kind = 'call_connected') - (select count(*) from events e where kind = 'call_ended' and exists (select 1 from events c where c.kind = 'call_connected' and c.call_id = e.call_id))" 2>/dev/null || echo 0
}

# health: the server's /health JSON.
health() {
    curl -sf --max-time 5 "http://$HTTP_ADDR/health"
}

# now_s: wall time in seconds with decimals.
now_s() {
    date +%s.%N
}

# udp_drops PID...: receive-buffer drops summed over the UDP sockets these processes hold
# (/proc/net/udp "drops" column, cumulative per socket), unlike nstat's host-wide counters that
# also count other programs on a shared machine.
udp_drops() {
    local pid inodes=""
    for pid in "$@"; do
        inodes+=$(ls -l "/proc/$pid/fd" 2>/dev/null | sed -nE 's/.*socket:\[([0-9]+)\].*/\1 /p' | tr -d '\n')
    done
    awk -v ino="$inodes" 'BEGIN { n = split(ino, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
        FNR > 1 && ($10 in want) { d += $NF } END { print d + 0 }' /proc/net/udp /proc/net/udp6
}

# add_bench_agents DB FIRST N PASS: N agents (logins bench1..benchN, extensions FIRST..) whose
# phones register with password PASS (MD5 and SHA-256 HA1s for realm firstline) and whose desk
# password is demo agent anna's (her argon2 hash is reused: DB must hold the demo data).
add_bench_agents() {
    local db=$1 first=$2 n=$3 pass=$4 hash
    hash=$(sqlite3 "$db" "select password_hash from agents where login = 'anna'")
    [[ -n "$hash" ]] || { echo "no demo agent hash in $db" >&2; return 1; }
    python3 - "$first" "$n" "$pass" "$hash" "$(date +%s%3N)" <<'PY' | sqlite3 "$db"
import hashlib, sys
first, n, pw, pwhash, now = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
print("BEGIN;")
for i in range(1, n + 1):
    ext = first + i - 1
    ha1 = lambda h: h(f"{ext}:firstline:{pw}".encode()).hexdigest()
    print("INSERT INTO agents (id, name, login, password_hash, extension, categories, level, "
          "created_at, sip_ha1_md5, sip_ha1_sha256, role) VALUES ("
          f"'agent-bench-{i}', 'Bench {i}', 'bench{i}', '{pwhash}', '{ext}', "
          f"'hardware,software,service', 1, {now}, '{ha1(hashlib.md5)}', "
          f"'{ha1(hashlib.sha256)}', 'agent');")
print("COMMIT;")
PY
}
