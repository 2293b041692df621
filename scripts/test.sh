#!/usr/bin/env bash
# The project's test command: every test of the workspace, then the loom
# model-checking tier and the seeded-mutant check (see docs/MODEL-CHECKING.md).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== cargo test --workspace"
cargo test --workspace
echo "== loom models"
scripts/loom.sh
echo "== seeded mutants"
scripts/mutants.sh
