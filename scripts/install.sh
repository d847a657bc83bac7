#!/usr/bin/env bash
# Installs everything llasa needs on a fresh Debian machine: system packages (espeak-ng and sox
# for real test speech and the synthetic corpus, chromium for the web-page test), a virtual
# environment in .venv with the pinned Python stack, the test extras, and llasa itself.
# Idempotent: re-running only installs what is missing. On a fresh 2-core machine the whole
# install (Debian packages, then the venv) took 1 min 30 s (2026-12-02); a no-op re-run 0.1 s.
set -euo pipefail
cd "$(dirname "$0")/.."

# g++ and ninja build llasa's 4/8-bit CPU kernel (llasa/lm/csrc) once, below.
APT_PACKAGES="espeak-ng sox libsox-fmt-all chromium chromium-driver g++ ninja-build"
# issue 18: text sources (data/text) and the flite / festival voices of the synthetic corpus
APT_PACKAGES="$APT_PACKAGES wordnet-base fortunes fortunes-min dict-gcide flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts"
missing=""
for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
# npm fetches the Kokoro voices below; Debian's package only where no npm is on PATH already
command -v npm >/dev/null || missing="$missing npm"
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

# Kokoro's 28 English voices (Apache-2.0, 14.6 MB) for `llasa data synth-corpus --engine kokoro`:
# npm package kokoro-js@1.2.1, package/voices/{af,am,bf,bm}_*.bin (issue 18, docs/data.md).
KOKORO_VOICES=${LLASA_KOKORO_VOICES:-$HOME/.cache/llasa/kokoro-voices}
if [ ! -f "$KOKORO_VOICES/bm_lewis.bin" ] && command -v npm >/dev/null; then
  ktmp=$(mktemp -d)
  if (cd "$ktmp" && npm pack --silent kokoro-js@1.2.1 >/dev/null \
      && tar xzf kokoro-js-1.2.1.tgz package/voices package/LICENSE); then
    mkdir -p "$KOKORO_VOICES"
    cp "$ktmp"/package/voices/a[fm]_*.bin "$ktmp"/package/voices/b[fm]_*.bin \
       "$ktmp"/package/LICENSE "$KOKORO_VOICES"/
  else  # the rest of llasa works without them; the kokoro engine's tests then skip
    echo "llasa: warning: could not fetch the Kokoro voices (npm pack kokoro-js@1.2.1)" >&2
  fi
  rm -rf "$ktmp"
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
# A re-run with nothing changed skips pip (about a minute of resolving otherwise): the stamp
# holds the hash of everything the pip steps below read, written only after they all succeed.
STAMP=.venv/.llasa-install-stamp
WANT=$(cat scripts/install.sh requirements.txt requirements-test.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && python -c "import llasa" 2>/dev/null; then
  echo "llasa: .venv is up to date (delete $STAMP to reinstall)"
  exit 0
fi
pip install -q --upgrade "pip>=24"
# torch is pinned in requirements.txt so pip takes the local CPU wheel.
pip install -q -r requirements.txt -r requirements-test.txt
# The official codec package (parity tests only) pins torch 2.5: never let it resolve.
pip install -q --no-deps xcodec2==0.1.5 vector-quantize-pytorch==1.17.8 einops==0.8.0 silero-vad==6.2.3 einx==0.3.0 frozendict==2.4.6 distillmos==0.9.1 xls-r-sqa==0.1.0
pip install -q --no-deps -e .
python -c "import llasa, torch, transformers; print('llasa', llasa.__version__, '| torch', torch.__version__, '| transformers', transformers.__version__)"
# Compile the 4/8-bit kernel now (about a minute on 2 cores) rather than at first use; where it
# cannot build, --quant runs on torch's kernels.
python -c "from llasa.lm import qkernel; k = qkernel.kernel(); print('llasa 4/8-bit kernel:', qkernel.isa() if k else 'not built, torch kernels instead')"
echo "$WANT" > "$STAMP"
