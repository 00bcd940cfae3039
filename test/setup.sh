#!/usr/bin/env bash
# What the tests need on this machine, checked before `npm test` (its pretest) and by .ci/run:
# sshd, sudo, busybox and mawk (the integration and portability tests), ssh-agent and `ip netns`
# (the bastion test), promtool (the alert rules' tests), redis-server, redis-sentinel (the failover
# test) and a Redis on 127.0.0.1:6379.
# Installed with apt when it can (root, or sudo without a password); otherwise it says exactly
# what to run, and stops.
set -euo pipefail

missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
{ command -v ssh-agent && command -v ssh-add; } >/dev/null 2>&1 || missing+=(openssh-client)
{ command -v ip && command -v ss; } >/dev/null 2>&1 || missing+=(iproute2)
command -v sudo >/dev/null 2>&1 || missing+=(sudo)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ -x /bin/busybox ] || missing+=(busybox)
[ -x /usr/bin/mawk ] || missing+=(mawk)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
{ command -v redis-server && command -v redis-cli; } >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-sentinel >/dev/null 2>&1 || missing+=(redis-sentinel)

if [ ${#missing[@]} -gt 0 ]; then
  install=(apt-get install -y -qq --no-install-recommends "${missing[@]}")
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  elif sudo -n true 2>/dev/null; then
    as_root=(sudo)
  else
    echo "The tests need: ${missing[*]}. Run, then npm test again:" >&2
    echo "  sudo apt-get update && sudo ${install[*]}" >&2
    exit 1
  fi
  echo "installing what the tests need: ${missing[*]}" >&2
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" "${install[@]}" >/dev/null
fi

# The machine's Redis on :6379 (the service tests also start private ones): start one if none answers.
if ! redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
  echo "starting redis-server on 127.0.0.1:6379 (nothing kept on disk)" >&2
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 1 50); do redis-cli ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
fi
