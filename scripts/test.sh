#!/usr/bin/env bash
# The test command (README, .ci/run): install, then the suite offline on CPU.
# Slow checks (full-size models) are marked `slow` and skipped here; run them with
#   .venv/bin/python -m pytest -m slow
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false LLASA_QUIET=1 ORT_DISABLE_TELEMETRY=1
exec .venv/bin/python -m pytest -m "not slow" -q "$@"
