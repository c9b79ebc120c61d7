#!/bin/sh
# Make this machine able to run the demo and the tests: Debian packages from
# apt, a running Docker daemon. Safe to rerun; does nothing that is done.
set -eu

fail() { echo "bootstrap: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "run as root (apt-get and dockerd need it), e.g. sudo make $*"
[ -r /etc/debian_version ] || fail "this needs a Debian (or Debian-based) machine with apt; install docker, mmdebstrap, python3-venv and openssh-client yourself"

missing=""
command -v docker >/dev/null 2>&1 && [ -x /usr/sbin/dockerd ] || missing="$missing docker.io"
command -v mmdebstrap >/dev/null 2>&1 || missing="$missing mmdebstrap"
[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] || missing="$missing debian-archive-keyring"
command -v ssh >/dev/null 2>&1 || missing="$missing openssh-client"
python3 -c 'import ensurepip, venv' 2>/dev/null || missing="$missing python3-venv"
command -v python3 >/dev/null 2>&1 || missing="$missing python3"
if [ -n "$missing" ]; then
  echo "bootstrap: installing$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "bootstrap: starting dockerd"
  nohup /usr/sbin/dockerd >/var/log/server-maintanence-dockerd.log 2>&1 &
  i=0
  until docker info >/dev/null 2>&1; do
    i=$((i + 1))
    [ "$i" -le 60 ] || fail "dockerd did not start in 60 s; see /var/log/server-maintanence-dockerd.log"
    sleep 1
  done
fi
echo "bootstrap: docker $(docker version --format '{{.Server.Version}}') ready"
