#!/bin/sh
# Restores a Redis snapshot (RDB, e.g. from the Docker deployment's master) into an empty-to-be Redis data
# directory, so that the Redis pod that mounts it next starts with that data (docs/kubernetes.md, migration).
#
#   redis-restore.sh SNAPSHOT.rdb DATA_DIR
#
# The pods run with `appendonly yes`, and a Redis with the AOF enabled ignores a plain dump.rdb when it finds
# no AOF (it starts empty). So the snapshot becomes the base file of a multi-part AOF (Redis >= 7): the
# `appendonlydir/` with the RDB as its base and a manifest naming it, which Redis loads at start and appends
# to from then on. The snapshot is checked with redis-check-rdb first; a bad one changes nothing.
#
# Environment: REDIS_CHECK_RDB (@default redis-check-rdb), AOF_DIR_NAME (@default appendonlydir, the
# `appenddirname` of redis.conf), AOF_FILE_NAME (@default appendonly.aof, its `appendfilename`).
set -eu

fail() { echo "redis-restore: error: $*" >&2; exit 1; }

[ $# -eq 2 ] || fail "usage: redis-restore.sh SNAPSHOT.rdb DATA_DIR"
snapshot=$1
data=$2
aof_dir=${AOF_DIR_NAME:-appendonlydir}
aof_file=${AOF_FILE_NAME:-appendonly.aof}
[ -f "$snapshot" ] || fail "$snapshot is not a file"
[ -d "$data" ] || fail "$data is not a directory"
"${REDIS_CHECK_RDB:-redis-check-rdb}" "$snapshot" > "$data/.restore-check.log" 2>&1 || {
  cat "$data/.restore-check.log" >&2
  rm -f "$data/.restore-check.log"
  fail "$snapshot is not a valid RDB snapshot; $data is unchanged"
}
rm -f "$data/.restore-check.log"

# Build the new AOF directory beside the old data, then swap: a failure before the swap changes nothing.
staging="$data/.restore-$$"
rm -rf "$staging"
mkdir -p "$staging/$aof_dir"
cp "$snapshot" "$staging/$aof_dir/$aof_file.1.base.rdb"
printf 'file %s seq 1 type b\n' "$aof_file.1.base.rdb" > "$staging/$aof_dir/$aof_file.manifest"
rm -rf "$data/$aof_dir" "$data/dump.rdb"
mv "$staging/$aof_dir" "$data/$aof_dir"
rmdir "$staging"
echo "redis-restore: $snapshot restored into $data/$aof_dir (the next Redis started on $data loads it)" >&2
