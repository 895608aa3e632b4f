#!/bin/sh
# edgefed first-boot installer. Runs as root on the Pi, started by cloud-init
# (bootcmd, on every boot until this card's install-id is recorded) or by
# firstrun.sh, from the edgefed/ directory that `bun run flash` wrote onto the
# boot partition. It installs the agent and its unit, then deletes agent.env
# (FAT has no permissions: anyone holding the card could read the enrollment
# token) and the binary (room for kernel updates) from the boot partition, and
# records the install-id last. A power cut anywhere leaves it to run again on
# the next boot, which is safe: what the boot partition no longer holds is
# taken from where it was installed.
#
#   install.sh [--start] [--root DIR]
#     --start     (re)start the agent now (cloud-init; firstrun.sh reboots instead)
#     --root DIR  install into the tree at DIR instead of / (image builds, tests)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=""
start=no
while [ $# -gt 0 ]; do
  case "$1" in
    --start) start=yes ;;
    --root) root=${2:?--root needs a directory}; shift ;;
    *) echo "edgefed-install: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
log() { echo "edgefed-install: $*"; }

# The agent's own system user: no login shell, no home of its own (its state
# is the unit's StateDirectory, /var/lib/edgefed).
if ! grep -q '^edgefed:' "$root/etc/passwd" 2>/dev/null; then
  if [ -n "$root" ]; then
    useradd --prefix "$root" --system --user-group --home-dir /var/lib/edgefed --no-create-home --shell /usr/sbin/nologin edgefed
  else
    useradd --system --user-group --home-dir /var/lib/edgefed --no-create-home --shell /usr/sbin/nologin edgefed
  fi
  log "created system user edgefed"
fi

# The group of the strategy processes that may post intents to the agent: its
# unit runs the agent with this group, so the local API's socket
# (/run/edgefed/agent.sock, 0660) is theirs. Add a strategy's user with
# usermod -aG edgefed-strategy USER.
if ! grep -q '^edgefed-strategy:' "$root/etc/group" 2>/dev/null; then
  if [ -n "$root" ]; then
    groupadd --prefix "$root" --system edgefed-strategy
  else
    groupadd --system edgefed-strategy
  fi
  log "created system group edgefed-strategy"
fi

if [ -f "$here/edgefed-agent" ]; then
  install -D -m 0755 "$here/edgefed-agent" "$root/usr/local/bin/edgefed-agent.new"
  mv -f "$root/usr/local/bin/edgefed-agent.new" "$root/usr/local/bin/edgefed-agent"
fi
if [ ! -x "$root/usr/local/bin/edgefed-agent" ]; then
  log "no agent binary: neither $here/edgefed-agent nor /usr/local/bin/edgefed-agent" >&2
  exit 1
fi

install -d -m 0755 "$root/etc/edgefed"
if [ -f "$here/agent.env" ]; then
  # Owner-only from the moment it exists: it holds the enrollment token.
  (umask 077 && cp "$here/agent.env" "$root/etc/edgefed/agent.env.new")
  chmod 0600 "$root/etc/edgefed/agent.env.new"
  mv -f "$root/etc/edgefed/agent.env.new" "$root/etc/edgefed/agent.env"
elif [ ! -f "$root/etc/edgefed/agent.env" ]; then
  log "no agent.env on the boot partition and none in /etc/edgefed: write the card again with bun run flash" >&2
  exit 1
fi
install -m 0644 "$here/core_gates.env" "$root/etc/edgefed/core_gates.env"
# The hub's CA (public), which agent.env's EDGEFED_HUB_CA names: the only CA the agent trusts.
if [ -f "$here/hub-ca.pem" ]; then install -m 0644 "$here/hub-ca.pem" "$root/etc/edgefed/hub-ca.pem"; fi
install -D -m 0644 "$here/edgefed-agent.service" "$root/etc/systemd/system/edgefed-agent.service"

if [ -n "$root" ]; then
  systemctl --root="$root" enable edgefed-agent.service
else
  systemctl daemon-reload
  systemctl enable edgefed-agent.service
  # restart, not start: a card written again over a running install brings a new binary or settings.
  if [ "$start" = yes ]; then systemctl restart --no-block edgefed-agent.service; fi
fi

sync
rm -f "$here/agent.env" "$here/edgefed-agent"
sync
if [ -f "$here/install-id" ]; then
  cp "$here/install-id" "$root/etc/edgefed/installed-id.new"
  mv -f "$root/etc/edgefed/installed-id.new" "$root/etc/edgefed/installed-id"
  sync
fi
log "installed the edgefed agent; it registers with its hub once the network is up"
