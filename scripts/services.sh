#!/usr/bin/env bash
# Makes sure the local services the tests use are running (PostgreSQL on 127.0.0.1:5432, Redis on
# 127.0.0.1:6379). On this project's machines they are started before a session; this starts them if
# they have stopped and says so when they cannot be started.
set -u
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  if command -v redis-server >/dev/null; then
    echo "services: starting redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || echo "services: redis could not be started" >&2
  else
    echo "services: redis-server is not installed" >&2
  fi
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null; then
    echo "services: starting postgresql"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start \
      || echo "services: postgresql could not be started" >&2
  else
    echo "services: postgresql is not installed" >&2
  fi
fi
exit 0
