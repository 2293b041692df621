#!/usr/bin/env bash
# Smoke test of the example proxy (engine/examples/proxy.rs): for each TLS
# library, start the proxy on a free port and check with `openssl s_client`
# that sessions resume through sesscache:
#   - TLS 1.2, `-reconnect`: 1 full handshake then 5 resumed ("Reused, ");
#   - TLS 1.3, `-sess_out` then `-sess_in`: a stateful ticket is redeemed;
#   - the proxy's own final counters: 8 handshakes, 6 resumed.
#   - two proxies sharing one redis-server (--redis): a session made on one
#     resumes on the other, and a TLS 1.3 ticket redeemed on one does not
#     resume again on the first.
# Exits non-zero if any of it fails. Needs `openssl` and `redis-server`.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v openssl >/dev/null || { echo "proxy_smoke: openssl not found" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "proxy_smoke: redis-server not found" >&2; exit 1; }

echo "== building the example proxy"
cargo build --release -p sesscache --features rustls,openssl,redis --example proxy
target_dir=${CARGO_TARGET_DIR:-target}
bin="$target_dir/release/examples/proxy"
[[ -x $bin ]] || { echo "proxy_smoke: $bin not built" >&2; exit 1; }

work=$(mktemp -d)
proxy_pid=""
extra_pids=()
cleanup() {
    local pid
    for pid in $proxy_pid "${extra_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "proxy_smoke: FAIL: $*" >&2
    local f
    for f in "$work"/*.out "$work"/*.err; do
        if [[ -s $f ]]; then echo "--- $f" >&2; cat "$f" >&2; fi
    done
    for f in "$work"/*.log; do
        echo "--- $f (excerpt)" >&2
        grep -E '^(New|Reused), |error|errno|^resumed: ' "$f" >&2 || true
    done
    exit 1
}

# Waits for the "listening on ADDR" line in file $1 of process $2; prints ADDR.
listening() {
    local addr="" deadline=$((SECONDS + 30))
    while [[ -z $addr ]]; do
        addr=$(sed -n 's/^listening on \([0-9.]*:[0-9]*\).*/\1/p' "$1")
        [[ -n $addr ]] && break
        kill -0 "$2" 2>/dev/null || fail "the proxy writing $1 exited before listening"
        ((SECONDS < deadline)) || fail "the proxy writing $1 did not listen within 30 s"
        sleep 0.1
    done
    echo "$addr"
}

# Connections per backend: 6 (-reconnect) + 2 (sess_out, sess_in).
conns=8
summary=()

for tls in rustls openssl; do
    echo "== $tls"
    out="$work/$tls.out"
    "$bin" --tls "$tls" --listen 127.0.0.1:0 --stats-every 0 --max-conns "$conns" \
        >"$out" 2>"$work/$tls.err" &
    proxy_pid=$!

    # The proxy prints "listening on ADDR" once its socket is bound and
    # listening, so from then on connections are accepted. (Probing with a
    # bare TCP connect would count as a failed handshake.)
    addr=$(listening "$out" "$proxy_pid")
    echo "proxy ($tls) listening on $addr"

    # TLS 1.2: s_client -reconnect = 1 full handshake + 5 reconnects.
    timeout 30 openssl s_client -connect "$addr" -reconnect -tls1_2 </dev/null \
        >"$work/$tls-tls12.log" 2>&1 || fail "$tls: s_client -reconnect -tls1_2 failed"
    new12=$(grep -c '^New, ' "$work/$tls-tls12.log" || true)
    reused12=$(grep -c '^Reused, ' "$work/$tls-tls12.log" || true)
    echo "TLS 1.2 -reconnect: New=$new12 Reused=$reused12"
    [[ $new12 -eq 1 && $reused12 -eq 5 ]] ||
        fail "$tls: TLS 1.2 expected 1 New and 5 Reused, got $new12 and $reused12"

    # TLS 1.3: s_client -reconnect does not wait for the tickets, which come
    # after the handshake; save the session (-ign_eof: read until the proxy
    # closes, so the tickets arrive), then offer it on a new connection.
    sess="$work/$tls-tls13.sess"
    timeout 30 openssl s_client -connect "$addr" -tls1_3 -sess_out "$sess" -ign_eof </dev/null \
        >"$work/$tls-tls13a.log" 2>&1 || fail "$tls: s_client -tls1_3 -sess_out failed"
    timeout 30 openssl s_client -connect "$addr" -tls1_3 -sess_in "$sess" -ign_eof </dev/null \
        >"$work/$tls-tls13b.log" 2>&1 || fail "$tls: s_client -tls1_3 -sess_in failed"
    grep -q '^New, TLSv1.3' "$work/$tls-tls13a.log" || fail "$tls: TLS 1.3 first handshake not New"
    grep -q '^Reused, TLSv1.3' "$work/$tls-tls13b.log" ||
        fail "$tls: TLS 1.3 session (stateful ticket) not resumed"
    grep -q '^resumed: yes' "$work/$tls-tls13b.log" ||
        fail "$tls: the proxy did not report the TLS 1.3 resumption"
    echo "TLS 1.3 -sess_in: Reused"

    # The proxy exits by itself after $conns connections, printing its
    # final counters.
    deadline=$((SECONDS + 30))
    while kill -0 "$proxy_pid" 2>/dev/null; do
        ((SECONDS < deadline)) || fail "$tls: the proxy did not exit after $conns connections"
        sleep 0.1
    done
    wait "$proxy_pid" || fail "$tls: the proxy exited with status $?"
    proxy_pid=""
    final=$(sed -n 's/^final: //p' "$out")
    echo "proxy: $final"
    [[ $final == "handshakes=$conns full=2 resumed=6 "* ]] ||
        fail "$tls: expected the proxy to count $conns handshakes, 2 full and 6 resumed"
    [[ $final == *" errors=0 "* ]] || fail "$tls: the proxy counted handshake errors"

    summary+=("$tls: TLS 1.2 reused $reused12/5, TLS 1.3 ticket reused 1/1; proxy: $final")
done

# --- Two proxies sharing sessions through Redis. -------------------------


# One handshake; prints New or Reused. $1 = address, then s_client options.
handshake() {
    local addr=$1 log
    shift
    log="$work/hs-$RANDOM.log"
    timeout 30 openssl s_client -connect "$addr" "$@" -ign_eof </dev/null >"$log" 2>&1 ||
        fail "s_client $* against $addr failed"
    sed -n 's/^\(New\|Reused\), .*/\1/p' "$log" | head -n 1
}

echo "== two proxies sharing one redis-server"
redis_port=""
for _ in $(seq 20); do
    port=$((20000 + RANDOM % 40000))
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        >"$work/redis.err" 2>&1 &
    pid=$!
    deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        if [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]]; then
            redis_port=$port
            break
        fi
        sleep 0.1
    done
    if [[ -n $redis_port ]]; then
        extra_pids+=("$pid")
        break
    fi
    kill "$pid" 2>/dev/null || true
done
[[ -n $redis_port ]] || fail "could not start redis-server"
redis_url="redis://127.0.0.1:$redis_port/"
echo "redis-server on port $redis_port"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=localhost -keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1 ||
    fail "could not make a certificate"
for name in a b; do
    "$bin" --tls rustls --listen 127.0.0.1:0 --stats-every 0 --redis "$redis_url" \
        --cert "$work/cert.pem" --key "$work/key.pem" >"$work/fleet-$name.out" 2>&1 &
    extra_pids+=("$!")
done
addr_a=$(listening "$work/fleet-a.out" "${extra_pids[1]}")
addr_b=$(listening "$work/fleet-b.out" "${extra_pids[2]}")
echo "proxy A on $addr_a, proxy B on $addr_b"

s12="$work/fleet12.sess" s13="$work/fleet13.sess"
[[ $(handshake "$addr_a" -tls1_2 -sess_out "$s12") == New ]] || fail "fleet: TLS 1.2 on A not New"
[[ $(handshake "$addr_b" -tls1_2 -sess_in "$s12") == Reused ]] ||
    fail "fleet: a TLS 1.2 session made on A did not resume on B"
[[ $(handshake "$addr_a" -tls1_3 -sess_out "$s13") == New ]] || fail "fleet: TLS 1.3 on A not New"
[[ $(handshake "$addr_b" -tls1_3 -sess_in "$s13") == Reused ]] ||
    fail "fleet: a TLS 1.3 ticket issued by A was not redeemed on B"
[[ $(handshake "$addr_a" -tls1_3 -sess_in "$s13") == New ]] ||
    fail "fleet: a TLS 1.3 ticket redeemed on B resumed again on A"
summary+=("redis: TLS 1.2 session A→B reused, TLS 1.3 ticket A→B redeemed once (replay on A: full)")

echo "== proxy smoke: OK"
printf '%s\n' "${summary[@]}"
