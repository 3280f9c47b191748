# Sourced by scripts: one cargo target directory outside the clone (so CI's fresh clones reuse
# the build) and the Python venv made by scripts/setup.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cdkit/target}"
export CDKIT_VENV="${CDKIT_VENV:-$HOME/.cache/cdkit/venv}"
export CDKIT_PYTHON="$CDKIT_VENV/bin/python"
