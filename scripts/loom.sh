#!/usr/bin/env bash
# Runs the loom models of loom-tests/ (all of them, or those whose names
# contain the given filters), optimised with debug assertions on, in their own
# target directory so normal builds are not invalidated.
#
#   scripts/loom.sh                 # every model
#   scripts/loom.sh m3a m4a         # some models
#   LOOM_MAX_PREEMPTIONS=3 scripts/loom.sh m4a
#   LOOM_LOG=trace LOOM_CHECKPOINT_FILE=m4a.json scripts/loom.sh m4a   # debug one
#   LOOM_COLLIDE=1 scripts/loom.sh  # every id hashes alike: the map's runs of
#                                   # equal keys (own target directory)
set -euo pipefail
cd "$(dirname "$0")/.."
target=target-loom
if [ "${LOOM_COLLIDE:-0}" = 1 ]; then
    RUSTFLAGS="--cfg sesscache_loom_collide ${RUSTFLAGS:-}"
    target=target-loom-collide
fi
export RUSTFLAGS="--cfg sesscache_loom --cfg crossbeam_loom ${RUSTFLAGS:-}"
export CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true
export CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true
exec cargo test -p sesscache-loom --release --target-dir "$target" \
    --test models -- --test-threads="${LOOM_TEST_THREADS:-2}" --nocapture "$@"
