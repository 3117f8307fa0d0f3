#!/usr/bin/env bash
# Installs every Debian package laco-bench needs to build, test and run.
# A no-op when they are all present. Usage: scripts/bootstrap.sh [--with-browser]
# --with-browser also installs Debian's chromium, which the report test uses to
# open and screenshot the HTML report; best effort: without it that test skips.
set -euo pipefail

packages=(
  build-essential cmake ninja-build git pkg-config
  libtorch-dev
  libopenblas0-pthread   # without it Debian's LibTorch uses reference BLAS: ~30x slower matrix products
  libfmt-dev nlohmann-json3-dev libcli11-dev libsqlite3-dev sqlite3
  libbenchmark-dev libgtest-dev libgmock-dev libstb-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "bootstrap: all ${#packages[@]} packages present"
fi

if [[ "${1:-}" == "--with-browser" ]] && ! command -v chromium >/dev/null 2>&1; then
  echo "bootstrap: installing chromium (for the HTML report test)"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  if ! { "${sudo_cmd[@]}" apt-get update -qq && "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends chromium; }; then
    echo "bootstrap: warning: chromium could not be installed; the HTML screenshot test will skip" >&2
  fi
fi

# LibTorch must resolve BLAS to OpenBLAS, not the reference implementation.
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
case "$blas" in
  *openblas*) ;;
  *) echo "bootstrap: warning: libblas.so.3 resolves to '${blas:-nothing}', not OpenBLAS;" \
          "matrix products will be slow (update-alternatives --config libblas.so.3-x86_64-linux-gnu)" >&2 ;;
esac
