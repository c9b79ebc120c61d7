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

# promtool (make lint, make unit) comes with Debian's prometheus, whose
# maintainer scripts would start the server: a policy-rc.d that denies every
# start (invoke-rc.d and deb-systemd-invoke ask it) keeps this machine
# without a Prometheus daemon, and on systemd the unit is left disabled.
if ! command -v promtool >/dev/null 2>&1; then
  echo "bootstrap: installing prometheus (for promtool; its service is not started)"
  policy=/usr/sbin/policy-rc.d
  if [ -e "$policy" ]; then
    own_policy=""
  else
    own_policy=1
    printf '#!/bin/sh\n# scripts/bootstrap.sh: start no service while it installs prometheus\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
  fi
  apt-get update -qq
  status=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null || status=$?
  [ -z "$own_policy" ] || rm -f "$policy"
  [ "$status" -eq 0 ] || fail "apt-get install prometheus failed ($status)"
  if [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  fi
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
