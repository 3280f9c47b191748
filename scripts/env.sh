# shellcheck shell=bash
# Sourced by scripts (from the repository root): a cargo target directory outside the clone,
# so CI's fresh clones reuse the build, and the Python venv made by scripts/setup.
# The target directory is per clone path: cargo records absolute source paths in its
# fingerprints, so two checkouts sharing one target directory can get each other's stale
# artifacts. This is the rule's one home for bash (scripts/cdkit_testbed/paths.py is its home for
# Python): CDKIT_CLONE_ID keys every per-clone cache (scripts/fuzz's build too).
CDKIT_CLONE_ID="$(pwd -P | sha256sum | cut -c1-12)"
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  CARGO_TARGET_DIR="$HOME/.cache/cdkit/target/$CDKIT_CLONE_ID"
fi
export CARGO_TARGET_DIR CDKIT_CLONE_ID
export CDKIT_VENV="${CDKIT_VENV:-$HOME/.cache/cdkit/venv}"
export CDKIT_PYTHON="$CDKIT_VENV/bin/python"
