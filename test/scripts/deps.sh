#!/usr/bin/env bash
# make deps: install what building and testing mq need (as root, with apt).
set -euo pipefail
. "$(dirname "$0")/common.sh"
ensure_packages "${test_deps[@]}"
ensure_node
