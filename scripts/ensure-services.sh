#!/usr/bin/env bash
# Make the services the test suite talks to available on 127.0.0.1:
# PostgreSQL on 5432 (user postgres, trust) and Redis on 6379.
# Starts them when installed but stopped; installs them from Debian's
# packages when missing and possible; otherwise fails with one sentence.
set -u

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null || \
  python3 -c 'import socket; socket.create_connection(("127.0.0.1", 5432), 1)' 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG || \
  python3 -c 'import socket; s=socket.create_connection(("127.0.0.1", 6379), 1); s.sendall(b"PING\r\n"); assert s.recv(7).startswith(b"+PONG")' 2>/dev/null; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi; }

install_packages() {
  command -v apt-get >/dev/null || return 1
  as_root apt-get update -qq >/dev/null 2>&1 || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}

start_postgres() {
  command -v pg_ctlcluster >/dev/null || install_packages postgresql || return 1
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  [ -n "$version" ] || return 1
  local hba="/etc/postgresql/$version/main/pg_hba.conf"
  if [ -f "$hba" ] && ! grep -q "arms-sync test trust" "$hba"; then
    as_root sh -c "printf '# arms-sync test trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n' | cat - '$hba' > '$hba.new' && mv '$hba.new' '$hba' && chown postgres:postgres '$hba'"
  fi
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || \
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload 2>/dev/null || true
  for _ in $(seq 1 30); do pg_up && return 0; sleep 1; done
  return 1
}

start_redis() {
  command -v redis-server >/dev/null || install_packages redis-server || return 1
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/arms-sync-tests.log >/dev/null 2>&1 || return 1
  for _ in $(seq 1 30); do redis_up && return 0; sleep 1; done
  return 1
}

pg_up || start_postgres || { echo "PostgreSQL is not reachable on 127.0.0.1:5432 and could not be installed or started here; start it (user postgres, trust auth) and run the tests again." >&2; exit 1; }
redis_up || start_redis || { echo "Redis is not reachable on 127.0.0.1:6379 and could not be installed or started here; start it and run the tests again." >&2; exit 1; }
echo "services: PostgreSQL and Redis are up on 127.0.0.1"
