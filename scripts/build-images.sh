#!/usr/bin/env bash
# Build the local test images with mmdebstrap + `docker import`; no registry is
# ever contacted. An image whose tag already exists is skipped.
#
#   scripts/build-images.sh [NAME ...]     NAME: bookworm bullseye trixie systemd sshd
#   (no NAME: every image)
set -euo pipefail

mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
base_packages=python3,python3-apt,procps,sudo

build() {
  local tag=$1 suite=$2 include=$3
  shift 3
  if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "image $tag exists, skipped"
    return 0
  fi
  echo "building $tag from Debian $suite"
  # Checked explicitly: set -e does not apply inside the `||` that runs builds.
  if ! mmdebstrap --quiet --variant=apt --include="$include" "$@" "$suite" - "$mirror" \
      | docker import "${change[@]}" - "$tag" >/dev/null; then
    echo "building $tag failed" >&2
    docker image rm -f "$tag" >/dev/null 2>&1 || true
    return 1
  fi
  echo "built $tag"
}

image() {
  change=()
  case $1 in
    bookworm | bullseye | trixie)
      build "local/debian:$1" "$1" "$base_packages" ;;
    systemd)
      change=(--change 'CMD ["/lib/systemd/systemd"]')
      build local/debian-systemd:bookworm bookworm "$base_packages,systemd,systemd-sysv" ;;
    sshd)
      # An unprivileged "deploy" user with passwordless sudo, as on a real fleet;
      # its public key is bind-mounted by the ssh scenario at run time.
      build local/debian-sshd:bookworm bookworm "$base_packages,openssh-server" \
        --customize-hook='chroot "$1" useradd --create-home --shell /bin/bash deploy' \
        --customize-hook='echo "deploy ALL=(ALL) NOPASSWD: ALL" > "$1/etc/sudoers.d/deploy"' \
        --customize-hook='chmod 0440 "$1/etc/sudoers.d/deploy"' ;;
    *)
      echo "unknown image '$1' (known: bookworm bullseye trixie systemd sshd)" >&2
      return 2 ;;
  esac
}

if [ $# -eq 0 ]; then
  set -- bookworm bullseye trixie systemd sshd
fi
# Builds mostly wait on the mirror, so up to three run at once.
jobs_max=${IMAGE_BUILD_JOBS:-3}
failures=$(mktemp)
trap 'rm -f "$failures"' EXIT
for name in "$@"; do
  ( image "$name" || echo "$name" >> "$failures" ) &
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
    wait -n || true
  done
done
wait
if [ -s "$failures" ]; then
  echo "image build failed: $(tr '\n' ' ' < "$failures")" >&2
  exit 1
fi
