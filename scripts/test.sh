#!/usr/bin/env bash
# The project's test command: every test of the workspace, the engine's
# integrations (rustls, OpenSSL, Redis) and the example proxy, then the loom
# model-checking tier and the seeded-mutant check (see docs/MODEL-CHECKING.md).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== cargo test --workspace"
cargo test --workspace
# The integrations: real rustls and OpenSSL handshakes, and the Redis tier
# against a real redis-server (started by the tests on a free port).
command -v redis-server >/dev/null || {
    echo "redis-server is needed by the Redis tier tests: apt-get install redis-server" >&2
    exit 1
}
echo "== cargo test -p sesscache --features rustls,openssl,redis"
cargo test -p sesscache --features rustls,openssl,redis
echo "== proxy smoke test (openssl s_client -reconnect)"
scripts/proxy_smoke.sh
echo "== loom models"
scripts/loom.sh
echo "== loom models, every id with the same hash"
LOOM_COLLIDE=1 scripts/loom.sh
echo "== seeded mutants"
scripts/mutants.sh
