#!/bin/sh
# The main job on the embedded default: one local Debian bookworm container,
# provisioned by playbooks/site.yml through inventory/local.
set -eu
cd "$(dirname "$0")/.."
name=server-maintanence-demo

if [ "$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" != true ]; then
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker run -d --name "$name" --hostname "$name" --network host \
    local/debian:bookworm sleep infinity >/dev/null
  # A real server has package lists; the bare image has none.
  docker exec "$name" apt-get update -qq
fi

.venv/bin/ansible-playbook -i inventory/local playbooks/site.yml

show() { printf '\n=== %s\n' "$1"; shift; docker exec "$name" sh -c "$*"; }
show "crontab of www-data" "crontab -l -u www-data"
show "/etc/logrotate.d/server-maintanence" "cat /etc/logrotate.d/server-maintanence"
show "logrotate -d summary" "out=\$(logrotate -d -s /dev/null /etc/logrotate.d/server-maintanence 2>&1);
  printf '%s\n' \"\$out\" | grep -E '^(error|rotating pattern|considering log|  log does not exist|  Now:)';
  echo \"errors: \$(printf '%s\n' \"\$out\" | grep -c '^error:')\""
show "logs directory" "ls -ld /opt/server-monitoring/logs"
printf '\n=== playbooks/status.yml (the app is not deployed here: its jobs have not run yet)\n'
.venv/bin/ansible-playbook -i inventory/local playbooks/status.yml | sed -n '/Show the fleet/,/^$/p'
printf '\nThe container %s keeps running; remove it with: docker rm -f %s\n' "$name" "$name"
