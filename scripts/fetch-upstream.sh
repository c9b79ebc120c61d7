#!/usr/bin/env bash
# Put a verified copy of the pinned server-monitoring source tree (see
# tests/upstream/app.env) at .cache/upstream/server-monitoring-<commit>.tar.gz
# and print that path as the last line on stdout. Sources, first that works:
# the cached copy, ../shared/upstream/ beside the checkout, GitHub's archive.
#
#   scripts/fetch-upstream.sh
#   UPSTREAM_COMMIT=<sha> UPSTREAM_CONTENT_SHA256=<digest> scripts/fetch-upstream.sh
#     (another commit; without its digest this fails, printing the one it computed)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
say() { echo "fetch-upstream: $*" >&2; }
fail() { say "$*"; exit 1; }

# The environment overrides the pin, so read it before app.env overwrites it.
want_commit=${UPSTREAM_COMMIT:-}
want_content=${UPSTREAM_CONTENT_SHA256:-}
# shellcheck source=SCRIPTDIR/../tests/upstream/app.env disable=SC1091
. "$root/tests/upstream/app.env"
# Overridden, the shared copy is checked by its content only.
if [ "${want_commit:-$UPSTREAM_COMMIT}" != "$UPSTREAM_COMMIT" ]; then
  # Another commit: the pinned digests describe another tree.
  UPSTREAM_COMMIT=$want_commit
  UPSTREAM_CONTENT_SHA256=$want_content
  UPSTREAM_SHARED_SHA256=
elif [ -n "$want_content" ] && [ "$want_content" != "$UPSTREAM_CONTENT_SHA256" ]; then
  UPSTREAM_CONTENT_SHA256=$want_content
  UPSTREAM_SHARED_SHA256=
fi
[[ $UPSTREAM_COMMIT =~ ^[0-9a-f]{40}$ ]] || fail "UPSTREAM_COMMIT must be a full 40-hex commit, got '$UPSTREAM_COMMIT'"

name=server-monitoring-$UPSTREAM_COMMIT.tar.gz
dest=$root/.cache/upstream/$name
shared=$(dirname "$root")/shared/upstream/$name
url=https://github.com/$UPSTREAM_REPOSITORY/archive/$UPSTREAM_COMMIT.tar.gz

mkdir -p "$(dirname "$dest")"
work=$(mktemp -d "$dest.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The digest of the files in the tarball's single top directory, whatever gzip
# made it: GitHub's archive and `git archive | gzip -n` agree on it.
content_digest() {
  local tree=$work/tree top
  rm -rf "$tree" && mkdir "$tree"
  tar -xzf "$1" -C "$tree" || return 1
  top=$(find "$tree" -mindepth 1 -maxdepth 1)
  [ -d "$top" ] || { say "$1 does not hold exactly one top directory"; return 1; }
  (cd "$top" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

# verify FILE [SHA256]: true when the content digest, and the file's own sha256
# if given, match the pin.
verify() {
  local file=$1 file_sha=${2:-} got
  if [ -n "$file_sha" ]; then
    got=$(sha256sum "$file" | cut -d' ' -f1)
    [ "$got" = "$file_sha" ] || { say "$file: sha256 $got, expected $file_sha"; return 1; }
  fi
  got=$(content_digest "$file") || return 1
  if [ -z "$UPSTREAM_CONTENT_SHA256" ]; then
    say "$file: content digest $got; set UPSTREAM_CONTENT_SHA256=$got once you trust it"
    return 1
  fi
  [ "$got" = "$UPSTREAM_CONTENT_SHA256" ] \
    || { say "$file: content digest $got, expected $UPSTREAM_CONTENT_SHA256"; return 1; }
}

if [ -f "$dest" ]; then
  if verify "$dest"; then
    echo "$dest"
    exit 0
  fi
  say "cached copy failed verification, fetching again"
fi

# Fill a temporary file and move it into place only once verified, so $dest
# never holds an unchecked tarball.
candidate=$work/$name
if [ -f "$shared" ] && cp "$shared" "$candidate" && verify "$candidate" "$UPSTREAM_SHARED_SHA256"; then
  say "verified $shared"
else
  [ ! -f "$shared" ] || say "not using $shared"
  say "downloading $url"
  curl --fail --location --silent --show-error --retry 3 --connect-timeout 20 \
      --output "$candidate" "$url" \
    || fail "could not download $url; put the tarball at $shared (see tests/upstream/app.env)"
  verify "$candidate" || fail "$url does not match the pin in tests/upstream/app.env"
  say "verified $url"
fi
chmod 0644 "$candidate"   # the shared copy is read-only
mv "$candidate" "$dest"
echo "$dest"
