#!/usr/bin/env bash
# Fetches GraphiQL's files, at the versions the gateway embeds, from the npm registry (the same
# files unpkg.com serves), then checks them against SHA256SUMS.
#
#   assets/graphiql/fetch.sh             # fetch into this directory and verify
#   assets/graphiql/fetch.sh --update    # after changing a version: fetch, rewrite SHA256SUMS
#   cd assets/graphiql && sha256sum -c SHA256SUMS   # only verify what is checked in
set -euo pipefail
cd "$(dirname "$0")"

# package@version, then the files taken from it (paths inside the package).
packages=(
  "graphiql@3.9.0 graphiql.min.css graphiql.min.js LICENSE"
  "react@18.3.1 umd/react.production.min.js LICENSE"
  "react-dom@18.3.1 umd/react-dom.production.min.js LICENSE"
)

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for entry in "${packages[@]}"; do
  read -r package files <<<"$entry"
  tarball="$(npm pack --silent --pack-destination "$scratch" "$package")"
  mkdir -p "$scratch/$package"
  tar -xzf "$scratch/$tarball" -C "$scratch/$package"
  for file in $files; do
    mkdir -p "$package/$(dirname "$file")"
    cp "$scratch/$package/package/$file" "$package/$file"
  done
done
if [ "${1:-}" = "--update" ]; then
  find . -type f -path './*@*/*' | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum >SHA256SUMS
fi
sha256sum -c SHA256SUMS
