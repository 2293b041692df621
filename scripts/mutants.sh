#!/usr/bin/env bash
# Seeded mutants: each is a deliberately wrong variant of engine code,
# compiled only under --cfg sesscache_mutant="NAME" (engine/build.rs turns
# SESSCACHE_MUTANT=NAME into that cfg, so only the engine is rebuilt). The
# loom suite must FAIL on every mutant and PASS on the real code. Prints a
# table: mutant -> the models that caught it. Exits non-zero if a mutant
# survives or the real code fails. A mutant written NAME:collide is checked
# against the colliding-ids build (every id hashes alike, as with
# LOOM_COLLIDE=1 scripts/loom.sh), whose real code scripts/loom.sh checks.
set -uo pipefail
cd "$(dirname "$0")/.."
MUTANTS=(
    retire_without_cas
    unlink_before_retire
    decrement_on_lost_race
    loser_skips_bound
    no_recheck_after_retired
    index_after_publish
    publish_before_init
    relaxed_len
    replacement_skips_bound
    relaxed_slot_load
    leak_replaced
    dummy_without_claim:collide
)
if [ $# -gt 0 ]; then MUTANTS=("$@"); fi

export RUSTFLAGS="--cfg sesscache_loom --cfg crossbeam_loom"
export CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true
export CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true
log_dir=target-loom/mutants
mkdir -p "$log_dir"

MODELS=()
run_suite() { # $1: mutant (NAME or NAME:collide) or "" for the real code; prints failed models
    local name=${1%:collide} log="$log_dir/${1:-real}.log" failed="" rc=0
    local target=target-loom flags=$RUSTFLAGS
    if [ "$name" != "$1" ]; then
        target=target-loom-collide
        flags="$RUSTFLAGS --cfg sesscache_loom_collide"
    fi
    : >"$log"
    if ! RUSTFLAGS="$flags" SESSCACHE_MUTANT="$name" cargo test -p sesscache-loom --release \
        --target-dir "$target" --test models --no-run >>"$log" 2>&1; then
        echo "(build failed)"
        return 1
    fi
    if [ ${#MODELS[@]} = 0 ]; then
        mapfile -t MODELS < <(RUSTFLAGS="$flags" SESSCACHE_MUTANT="$name" cargo test -q \
            -p sesscache-loom --release --target-dir "$target" --test models -- --list 2>/dev/null |
            sed -n 's/: test$//p')
    fi
    # One process per model: a model that fails may abort its process.
    for model in "${MODELS[@]}"; do
        if ! RUSTFLAGS="$flags" SESSCACHE_MUTANT="$name" cargo test -p sesscache-loom --release \
            --target-dir "$target" --test models -- --exact "$model" >>"$log" 2>&1; then
            failed="$failed $model"
            rc=1
        fi
    done
    echo "${failed# }"
    return $rc
}

status=0
printf '%-28s %-8s %-9s %s\n' "mutant" "result" "time" "caught by"
start=$(date +%s)
failed=$(run_suite "")
rc=$?
printf '%-28s %-8s %-9s %s\n' "(real code)" "$([ $rc = 0 ] && echo pass || echo FAIL)" "$(( $(date +%s) - start ))s" "$failed"
[ $rc = 0 ] || status=1
for m in "${MUTANTS[@]}"; do
    start=$(date +%s)
    failed=$(run_suite "$m")
    rc=$?
    if [ $rc != 0 ] && [ -n "$failed" ]; then
        result=caught
    else
        result=SURVIVED
        status=1
    fi
    printf '%-28s %-8s %-9s %s\n' "$m" "$result" "$(( $(date +%s) - start ))s" "$failed"
done
[ $status = 0 ] && echo "mutants: all caught, real code passes" || echo "mutants: FAILED (see $log_dir/)"
exit $status
