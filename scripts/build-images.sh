#!/usr/bin/env bash
# Build the local test images with mmdebstrap + `docker import`; no registry is
# ever contacted. An image whose tag already exists is skipped.
#
#   scripts/build-images.sh [NAME ...]     NAME: bookworm bullseye trixie systemd sshd upstream stock controller
#   (no NAME: every image but stock and controller, which only bench/speed.sh
#   and scripts/compat.sh use and build)
#   scripts/build-images.sh --upstream-tag  prints the upstream image's tag
#   (the Makefile's SM_UPSTREAM_IMAGE): the app's commit and a digest of the
#   image's recipe, so that a changed recipe builds a new image.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
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

# mmdebstrap customize hook (run by sh, $1 is the new root) that deploys the app
# as its docs/Deployment.md, Option 2, sections 2.1-2.4 do on a bare-metal host.
# Reads APP_TARBALL, APP_UV and the build host's proxy variables.
deploy_app_hook=$(cat <<'HOOK'
set -eu
umask 022
root=$1 app=/opt/server-monitoring uv=/var/www/.local/bin/uv
as_www() { chroot "$root" runuser -u www-data -- env -i HOME=/var/www PATH=/usr/bin:/bin "$@"; }

# 2.1, with the modes a `git clone` leaves rather than the archive's 0664.
mkdir "$root$app"
tar -xzf "$APP_TARBALL" -C "$root$app" --strip-components=1 --no-same-owner --no-same-permissions
# The tree pins 3.10, which bookworm lacks and uv may not download: pin the system's.
chroot "$root" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' > "$root$app/.python-version"
chroot "$root" chown -R www-data:www-data "$app"
# Where uv's installer, run as www-data, puts it; the app's resolve_uv looks there first.
chroot "$root" install -d -o www-data -g www-data /var/www /var/www/.local /var/www/.local/bin
install -m 0755 "$APP_UV" "$root$uv"
chroot "$root" chown www-data:www-data "$uv"
# PyPI is reached with the build host's CA bundle and proxy; the image's bundle may lack its CA.
cp /etc/ssl/certs/ca-certificates.crt "$root/tmp/build-ca.crt"
as_www UV_PYTHON_DOWNLOADS=never SSL_CERT_FILE=/tmp/build-ca.crt \
  ${http_proxy:+"http_proxy=$http_proxy"} ${https_proxy:+"https_proxy=$https_proxy"} \
  ${HTTP_PROXY:+"HTTP_PROXY=$HTTP_PROXY"} ${HTTPS_PROXY:+"HTTPS_PROXY=$HTTPS_PROXY"} \
  ${no_proxy:+"no_proxy=$no_proxy"} ${NO_PROXY:+"NO_PROXY=$NO_PROXY"} \
  sh -c "cd $app && exec $uv sync --frozen --no-dev --extra prod"
rm "$root/tmp/build-ca.crt"
# The venv has its own links to the files uv downloaded, so the cache is dead weight.
as_www "$uv" cache clean

# 2.2
mkdir "$root/etc/server-monitoring"
key=$(tr -dc A-Za-z0-9 < /dev/urandom | head -c 50)
printf 'DJANGO_SECRET_KEY=%s\nDJANGO_DEBUG=0\nDJANGO_ALLOWED_HOSTS=127.0.0.1,localhost\n' "$key" \
  > "$root/etc/server-monitoring/env"
chroot "$root" chown root:www-data /etc/server-monitoring/env
chmod 0640 "$root/etc/server-monitoring/env"

# 2.3, without the build host's CA or proxy: uv run must find everything in place.
as_www sh -c "cd $app && set -a && . /etc/server-monitoring/env && set +a &&
  $uv run python manage.py migrate --noinput &&
  $uv run python manage.py collectstatic --noinput"

# 2.4
cp "$root$app/deploy/systemd/server-monitoring.service" \
  "$root$app/deploy/systemd/server-monitoring-inbox.service" "$root/etc/systemd/system/"
chroot "$root" systemctl enable server-monitoring.service server-monitoring-inbox.service

# The app's own crontab installer. Its prompts, in order: schedule (1: */5),
# auto-update (y), show the crontab (n). INSTALL_AUTO_ACCEPT would answer the
# auto-update one with its default, no, so the answers come on stdin.
printf '1\ny\nn\n' | as_www PROJECT_DIR=$app UV_BIN=$uv bash "$app/bin/install/cron.sh" >/dev/null
# It exits 0 whatever happened.
crontab=$(chroot "$root" crontab -l -u www-data)
for line in "$uv run .*# server-maintanence health check" \
    "$app/bin/update.sh .*# server-maintanence auto-update"; do
  printf '%s\n' "$crontab" | grep -q "^\*/5 \* \* \* \* cd $app && $line\$" \
    || { echo "cron.sh did not install: $line" >&2; exit 1; }
done
HOOK
)

# The real app at the commit tests/upstream/app.env pins, on a stock Debian
# server that boots systemd with D-Bus (as every stock server does: the app
# user's systemctl asks systemd through it), cron and logrotate present, with
# git, which a `git clone` deployment has and the app's bin/update.sh runs.
upstream_packages=$base_packages,systemd,systemd-sysv,dbus,cron,logrotate,ca-certificates,curl,git

# local/server-monitoring:<commit12>-<digest12 of the recipe: packages and hook>
upstream_tag() {
  local recipe
  recipe=$(printf '%s\n' "$upstream_packages" "$deploy_app_hook" | sha256sum)
  echo "local/server-monitoring:${1:0:12}-${recipe:0:12}"
}

upstream() {
  local tarball commit uv=$root/.venv/bin/uv
  [ -x "$uv" ] || { echo "no $uv: run 'make venv' first" >&2; return 1; }
  tarball=$("$root/scripts/fetch-upstream.sh" | tail -n 1) || return 1
  commit=${tarball##*/server-monitoring-}
  commit=${commit%.tar.gz}
  change=(--change 'CMD ["/lib/systemd/systemd"]')
  APP_TARBALL=$tarball APP_UV=$uv build "$(upstream_tag "$commit")" bookworm "$upstream_packages" \
    --customize-hook="$deploy_app_hook"
}

if [ "${1:-}" = --upstream-tag ]; then
  # The commit the Makefile passes (it overrides the pin), else the pinned one.
  commit=${UPSTREAM_COMMIT:-$(sed -n 's/^UPSTREAM_COMMIT=//p' "$root/tests/upstream/app.env")}
  upstream_tag "$commit"
  exit 0
fi

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
      # shellcheck disable=SC2016 # mmdebstrap expands "$1", the new root
      build local/debian-sshd:bookworm bookworm "$base_packages,openssh-server" \
        --customize-hook='chroot "$1" useradd --create-home --shell /bin/bash deploy' \
        --customize-hook='echo "deploy ALL=(ALL) NOPASSWD: ALL" > "$1/etc/sudoers.d/deploy"' \
        --customize-hook='chmod 0440 "$1/etc/sudoers.d/deploy"' ;;
    upstream)
      upstream ;;
    stock)
      # A stock Debian server, cron and logrotate present: bench/speed.sh's hosts.
      build local/debian-stock:bookworm bookworm "$base_packages,cron,logrotate" ;;
    controller)
      # scripts/compat.sh's controller for the newest ansible-core (Python 3.13):
      # venvs, git for ansible-test, the docker CLI for the docker connection.
      build local/debian-controller:trixie trixie "$base_packages,python3-venv,git,ca-certificates,docker-cli" ;;
    *)
      echo "unknown image '$1' (known: bookworm bullseye trixie systemd sshd upstream stock controller)" >&2
      return 2 ;;
  esac
}

if [ $# -eq 0 ]; then
  set -- bookworm bullseye trixie systemd sshd upstream
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
