#!/usr/bin/env bash
# A throw-away Postgres cluster for the export-db tests (Debian's postgresql package: apt-get install
# postgresql). Nothing here touches a Postgres the machine already runs: the cluster lives in a temp folder,
# listens on 127.0.0.1 on a free port and on a socket in that folder, and is removed when it stops.
#
#   tests/postgres/cluster.sh run CMD...   start a cluster, run CMD with LAKEQA_TEST_POSTGRES_URL set, stop it
#   tests/postgres/cluster.sh start DIR    start one in DIR (empty or absent); its URL is written to DIR/url
#   tests/postgres/cluster.sh stop DIR     stop it and remove DIR
#
# `run` leaves LAKEQA_TEST_POSTGRES_URL alone when it is set already (a server of your own). Without the
# postgresql binaries it runs CMD anyway (the Postgres tests then skip and say why) unless
# LAKEQA_REQUIRE_POSTGRES=1 (.ci/run sets it), which makes a missing Postgres an error.
#
# The role `lakeqa` logs in over TCP with a password (scram-sha-256), so the tests see a URL with a password
# in it and can check that it never reaches a log.
set -euo pipefail

bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
        echo "$dir"
    elif command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
    fi
}

# initdb and postgres refuse to run as root: as root, the cluster belongs to Debian's `postgres` user.
as_owner() {
    if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
    local dir=$1 bin port password
    bin=$(bindir)
    [ -n "$bin" ] || { echo "cluster.sh: no Postgres binaries (apt-get install postgresql)" >&2; return 1; }
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
    # the password file for the owner only; in a subshell, so the umask does not reach the command `run`
    # starts (files the tests write must keep their ordinary permissions)
    (umask 077 && printf '%s\n' "$password" > "$dir/pwfile")
    [ "$(id -u)" != "0" ] || chown -R postgres: "$dir"
    as_owner "$bin/initdb" --pgdata="$dir/data" --username=postgres --pwfile="$dir/pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; return 1; }
    # fsync off: a throw-away cluster has nothing to keep through a crash, and the tests run faster
    as_owner "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait --silent \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off" start \
        || { cat "$dir/server.log" >&2; return 1; }
    as_owner "$bin/psql" --quiet --no-psqlrc -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
        -v pw="$password" >/dev/null <<'SQL'
create role lakeqa login password :'pw';
create database lakeqa owner lakeqa;
SQL
    rm -f "$dir/pwfile"
    (umask 077 && printf 'postgresql://lakeqa:%s@127.0.0.1:%s/lakeqa\n' "$password" "$port" > "$dir/url")
    echo "cluster.sh: Postgres $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $dir)" >&2
}

stop() {
    local dir=$1 bin
    bin=$(bindir)
    if [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" --pgdata="$dir/data" --wait --silent -m fast stop || true
    fi
    rm -rf "$dir"
}

run() {
    if [ -n "${LAKEQA_TEST_POSTGRES_URL:-}" ]; then
        "$@"
        return
    fi
    if [ -z "$(bindir)" ]; then
        if [ "${LAKEQA_REQUIRE_POSTGRES:-0}" = "1" ]; then
            echo "cluster.sh: LAKEQA_REQUIRE_POSTGRES=1 but Postgres is not installed (apt-get install postgresql)" >&2
            return 1
        fi
        echo "cluster.sh: Postgres is not installed; the export-db Postgres tests will skip" >&2
        "$@"
        return
    fi
    # global, not local: the EXIT trap runs after this function has returned
    cluster_dir=$(mktemp -d "${TMPDIR:-/tmp}/lakeqa-pg.XXXXXX")
    trap 'stop "$cluster_dir"' EXIT
    start "$cluster_dir"
    LAKEQA_TEST_POSTGRES_URL=$(cat "$cluster_dir/url") "$@"
}

case "${1:-}" in
    start) start "${2:?usage: cluster.sh start DIR}" ;;
    stop) stop "${2:?usage: cluster.sh stop DIR}" ;;
    run) shift; [ $# -gt 0 ] || { echo "usage: cluster.sh run CMD..." >&2; exit 2; }; run "$@" ;;
    *) echo "usage: cluster.sh start DIR | stop DIR | run CMD..." >&2; exit 2 ;;
esac
