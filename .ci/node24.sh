#!/usr/bin/env bash
# Installs Node.js 24 (LTS) from the npm registry into .cache/node24 (git-ignored) and prints the
# path of its node binary, so CI can run the suite a second time on the runtime of the image:
#
#   node24=$(bash .ci/node24.sh)
#   PATH="$(dirname "$node24"):$PATH" npm test
#
# The registry's `node` package only runs a preinstall script that installs node-<os>-<arch> (the
# release's binary, as published) with a nested npm; this installs that platform package directly,
# the same binary without an install script to allow. A second run reuses the cache.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

version=24.21.0 # the release deploy/Dockerfile's image pins
dir=.cache/node24

case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) echo "node24: no Node.js package for $(uname -s)" >&2; exit 1 ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "node24: no Node.js package for $(uname -m)" >&2; exit 1 ;;
esac
package=node-$os-$arch
binary=$PWD/$dir/node_modules/$package/bin/node

if [ ! -x "$binary" ] || [ "$("$binary" --version 2>/dev/null)" != "v$version" ]; then
  echo "node24: installing $package@$version into $dir" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  echo '{ "private": true, "description": "Node.js for CI, installed by .ci/node24.sh" }' >"$dir/package.json"
  npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --ignore-scripts \
    "$package@$version" >&2
fi
found=$("$binary" --version 2>/dev/null || true)
[ "$found" = "v$version" ] || { echo "node24: $binary answers '$found', not v$version" >&2; exit 1; }
echo "$binary"
