"""Where things are: the repository root and the cargo target directory.

The target directory rule lives here for Python and in scripts/env.sh for bash, and nowhere
else: $CARGO_TARGET_DIR if set, else ~/.cache/cdkit/target/<first 12 hex digits of the sha256
of the clone's physical path and a newline> (what `pwd -P | sha256sum | cut -c1-12` prints).
Per clone path because cargo records absolute source paths in its fingerprints, so two
checkouts sharing one target directory can get each other's stale artifacts.
"""

import hashlib
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def clone_id(root=REPO_ROOT):
    """The clone's key in the caches: as scripts/env.sh's `pwd -P | sha256sum | cut -c1-12`."""
    return hashlib.sha256((os.path.realpath(root) + "\n").encode()).hexdigest()[:12]


def target_dir(root=REPO_ROOT):
    """The cargo target directory scripts/env.sh chooses for the clone at `root`."""
    return os.environ.get("CARGO_TARGET_DIR") or os.path.join(
        os.path.expanduser("~/.cache/cdkit/target"), clone_id(root))


def venv():
    """The Python venv scripts/setup makes ($CDKIT_VENV, default ~/.cache/cdkit/venv)."""
    return os.environ.get("CDKIT_VENV", os.path.expanduser("~/.cache/cdkit/venv"))
