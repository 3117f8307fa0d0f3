#!/usr/bin/env bash
# Installs every Debian package laco-bench needs to build, test and run.
# A no-op when they are all present. Usage: scripts/bootstrap.sh [--with-browser] [--with-tex]
# --with-browser also installs Debian's chromium, which the report test uses to
# open and screenshot the HTML report; --with-tex installs the texlive packages
# the report test compiles report.tex (booktabs tables, pgfplots figures) with.
# Both best effort: without them those tests skip and say why.
set -euo pipefail

with_browser=0 with_tex=0
for arg in "$@"; do
  case "$arg" in
    --with-browser) with_browser=1 ;;
    --with-tex) with_tex=1 ;;
    *) echo "bootstrap: unknown option '$arg' (allowed: --with-browser, --with-tex)" >&2; exit 1 ;;
  esac
done

packages=(
  build-essential cmake ninja-build git pkg-config
  libtorch-dev
  libopenblas0-pthread   # without it Debian's LibTorch uses reference BLAS: ~30x slower matrix products
  libfmt-dev nlohmann-json3-dev libcli11-dev libsqlite3-dev sqlite3
  libbenchmark-dev libgtest-dev libgmock-dev libstb-dev
  libpcre2-dev libutf8proc-dev   # the Qwen tokenizer: its pre-tokenizer regex (Unicode classes, look-ahead) and NFC
  libjpeg-dev libpng-dev   # harness/image: JPEG through libjpeg-turbo (the library Pillow links), PNG through libpng
)


installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
# apt_install PACKAGE...: as root, or through sudo.
apt_install() {
  local sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq && "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "$@"
}

missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}"
  apt_install "${missing[@]}"
else
  echo "bootstrap: all ${#packages[@]} packages present"
fi

# Best-effort extras for tests: install_optional WHAT PACKAGE... (the ones not installed).
install_optional() {
  local what=$1
  shift
  local want=()
  for p in "$@"; do installed "$p" || want+=("$p"); done
  ((${#want[@]})) || return 0
  echo "bootstrap: installing ${want[*]} (for $what)"
  apt_install "${want[@]}" || echo "bootstrap: warning: ${want[*]} could not be installed; $what will skip" >&2
}
((with_browser)) && install_optional "the HTML report screenshot test" chromium
((with_tex)) && install_optional "the LaTeX report compile test" texlive-latex-base texlive-latex-recommended texlive-pictures

# LibTorch must resolve BLAS to OpenBLAS, not the reference implementation.
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
case "$blas" in
  *openblas*) ;;
  *) echo "bootstrap: warning: libblas.so.3 resolves to '${blas:-nothing}', not OpenBLAS;" \
          "matrix products will be slow (update-alternatives --config libblas.so.3-x86_64-linux-gnu)" >&2 ;;
esac
