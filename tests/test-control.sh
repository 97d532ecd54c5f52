#!/usr/bin/env bash
# Status and control against a running daemon: status and its JSON fields,
# pause stops copying while the mount keeps serving, resume drains, sync
# waits for exactly what was journaled before it, workers changes the pool,
# metrics are Prometheus text, a non-operator is refused pause, malformed
# and silent clients get errors while others are served, dead letters and
# retry, the latency report and its offline twin.  TAP.
#
#   tests/test-control.sh BUILDDIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mount-lib.sh"
mfs_init "${1:?usage: test-control.sh BUILDDIR}"
trap mfs_cleanup EXIT
T=$MFS_TMP
CTL=$MFS_BUILD/tools/mirrorfsctl
SOCK=$T/ctl.sock
ctl() { "$CTL" --socket "$SOCK" "$@"; }
field() { ctl status --json | python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
raw() {         # raw REQUEST-BYTES: what the daemon answers, as Python bytes
        python3 - "$SOCK" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
except socket.timeout:
    pass
print(data.split(b"\n")[0].decode())
PY
}

mkdir -p "$T/src" "$T/mnt" "$T/tgt"
if ! mfs_mount "$T/src" "$T/mnt" "journal=$T/j,target=$T/tgt,socket=$SOCK,allow_other"; then
        not_ok "mount"
        tap_done
        exit 1
fi
M=$T/mnt

# ---- status ----
for i in $(seq 50); do echo "$i" >"$M/f$i"; done
check "status: one screen, state mirroring" bash -c "'$CTL' --socket '$SOCK' status | head -n 1 | grep -q ': mirroring$'"
check "status --json: every documented field" python3 - "$SOCK" "$CTL" <<'PY'
import json, subprocess, sys
st = json.loads(subprocess.check_output([sys.argv[2], "--socket", sys.argv[1], "status", "--json"]))
need = ["state", "role", "source", "mountpoint", "target", "journal_dir", "uptime_s", "journal", "inodes",
        "passthrough", "io_uring", "applied_seq", "lag_records", "lag_seconds", "queued", "queued_held",
        "queued_barriers", "queued_parked", "read_seq", "in_flight", "workers",
        "files_copied", "bytes_copied", "files_per_s_10s", "mb_per_s_10s", "files_per_s_5m", "mb_per_s_5m",
        "renames", "links", "retries", "waiting_retry", "dead_letters", "events_lost", "last_error",
        "last_error_path", "target_lost", "target_sync_s", "stalled_s", "oldest_path", "oldest_state",
        "oldest_runs", "paused"]
missing = [k for k in need if k not in st]
jmissing = [k for k in ["head_seq", "synced_seq", "bytes", "segments", "record_errors", "commit_p99_us"]
            if k not in st["journal"]]
assert not missing and not jmissing, (missing, jmissing)
assert st["role"] == "mount" and st["state"] == "mirroring", st
PY
# a file open for writing is held (copied at its close), and status says so
exec 7>"$M/open-for-writing"
echo "being written" >&7
sleep 0.3
check "status --json: a file open for writing counts as queued_held" test "$(field '["queued_held"]')" = 1
check "status: the work line says what the queued wait for" \
        bash -c "'$CTL' --socket '$SOCK' status | grep -q 'of them: 1 files open for writing'"
exec 7>&-
check "closed: it is copied" bash -c "'$CTL' --socket '$SOCK' sync --timeout 30 && cmp '$T/src/open-for-writing' '$T/tgt/open-for-writing'"
check "closed: nothing held any more" test "$(field '["queued_held"]')" = 0
check "version" bash -c "'$CTL' --socket '$SOCK' version | grep -q '\"protocol\":1'"

# ---- sync waits for exactly what was journaled before it ----
check "sync returns 0 and says up to which seq" bash -c "'$CTL' --socket '$SOCK' sync --timeout 30 | grep -q 'up to seq'"
check "after sync: the files are on the target" python3 "$here/treecmp.py" "$T/src" "$T/tgt"
check "after sync: lag 0" test "$(field '["lag_records"]')" = 0

# ---- pause, resume ----
check "pause" ctl pause
for i in $(seq 20); do echo "while paused $i" >"$M/p$i"; done
sleep 0.5
check "paused: the mount keeps serving" grep -qx "while paused 20" "$M/p20"
check "paused: nothing is copied" test ! -e "$T/tgt/p1"
check "paused: state says so" test "$(field '["state"]')" = paused
check "paused: sync times out (exit 1) instead of hanging" bash -c "! '$CTL' --socket '$SOCK' sync --timeout 1"
check "resume" ctl resume
check "resumed: sync drains" ctl sync --timeout 30
check "resumed: target equals source" python3 "$here/treecmp.py" "$T/src" "$T/tgt"

# ---- workers ----
check "workers 5" ctl workers 5
check "status shows 5 workers" test "$(field '["workers"]')" = 5
check "workers 1" ctl workers 1
for i in $(seq 30); do echo "w $i" >"$M/w$i"; done
check "with 1 worker it still converges" bash -c "'$CTL' --socket '$SOCK' sync --timeout 30 && python3 '$here/treecmp.py' '$T/src' '$T/tgt'"
check "workers 0 is refused" bash -c "! '$CTL' --socket '$SOCK' workers 0 2>/dev/null"

# ---- metrics ----
check "metrics are Prometheus text" python3 - "$SOCK" "$CTL" <<'PY'
import re, subprocess, sys
text = subprocess.check_output([sys.argv[2], "--socket", sys.argv[1], "metrics"]).decode()
seen = {}
for line in text.splitlines():
    if line.startswith("# HELP "):
        continue
    m = re.fullmatch(r"# TYPE (mirrorfs_[a-z0-9_]+) (gauge|counter)", line)
    if m:
        seen[m.group(1)] = m.group(2)
        continue
    m = re.fullmatch(r"(mirrorfs_[a-z0-9_]+) (-?[0-9.eE+-]+|NaN)", line)
    assert m, f"bad line: {line!r}"
    assert m.group(1) in seen, f"no TYPE before {m.group(1)}"
    if seen[m.group(1)] == "counter":
        assert m.group(1).endswith("_total"), m.group(1)
for k in ["mirrorfs_up", "mirrorfs_lag_records", "mirrorfs_lag_seconds", "mirrorfs_files_copied_total",
          "mirrorfs_dead_letters", "mirrorfs_journal_bytes", "mirrorfs_target_sync_seconds"]:
    assert k in seen, k
PY

# ---- rights, and hostile clients ----
chmod 755 "$T"
chmod 666 "$SOCK"       # let a non-operator connect (the default 0660 keeps them out)
check "a non-operator may read the status" setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" --socket "$SOCK" status
check "a non-operator is refused pause (EPERM)" bash -c \
        "setpriv --reuid=65534 --regid=65534 --clear-groups '$CTL' --socket '$SOCK' pause 2>&1 | grep -q EPERM"
check "...and it did not pause" test "$(field '["paused"]')" = False
chmod 660 "$SOCK"
answer=$(raw 'status  extra\n')
check "malformed request: an error answer" test "$answer" = "ERR EINVAL malformed request"
answer=$(raw 'frobnicate\n')
check "unknown verb: ENOSYS" test "${answer%% *}" = ERR -a "$(echo "$answer" | cut -d' ' -f2)" = ENOSYS
answer=$(raw '\x00\xff\x01\n')
check "binary garbage: an error answer" test "$answer" = "ERR EINVAL malformed request"
answer=$(raw "$(printf 'x%.0s' $(seq 1500))\n")
check "a request too long: an error answer" test "$answer" = "ERR EINVAL request too long"
answer=$(raw 'workers 65\n')
check "bad argument: EINVAL" test "$answer" = "ERR EINVAL malformed request"
# a client that connects and never speaks does not block others
python3 - "$SOCK" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
time.sleep(8)
PY
silent=$!
sleep 0.3
check "a silent client does not block others" timeout 3 "$CTL" --socket "$SOCK" status
many() {
        local i pids=()
        for i in $(seq 40); do "$CTL" --socket "$SOCK" status --json >/dev/null & pids+=($!); done
        for i in "${pids[@]}"; do wait "$i" || return 1; done
}
check "40 clients at once are all served" many
kill "$silent" 2>/dev/null; wait "$silent" 2>/dev/null
check "the daemon still serves the mount after all that" bash -c "echo ok >'$M/after' && grep -qx ok '$M/after'"

# ---- the latency report, online and offline ----
ctl sync --timeout 30 >/dev/null       # what is applied is in the applied log on disk too
check "report: counts the files mirrored" bash -c "[ \$('$CTL' --socket '$SOCK' report --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"count\"])') -ge 100 ]"
check "report --by hour" bash -c "'$CTL' --socket '$SOCK' report --by hour --json | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r[\"by_hour\"] and r[\"by_hour\"][0][\"count\"] == r[\"count\"]'"
check "report: the offline report from the journal directory agrees" bash -c \
        "a=\$('$CTL' --socket '$SOCK' report --json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r[\"count\"], r[\"max_s\"])'); \
         b=\$('$MFS_JOURNAL_TOOL' report '$T/j' --json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r[\"count\"], r[\"max_s\"])'); \
         [ \"\$a\" = \"\$b\" ]"

# ---- dead letters and retry ----
# a dead letter the honest way: a record whose path is invalid (forged)
mfs_umount "$M"
"$MFS_BUILD/tests/journal-forge" "$T/j" create '../evil' create fine-later
echo later >"$T/src/fine-later"
if mfs_mount "$T/src" "$T/mnt" "journal=$T/j,target=$T/tgt,socket=$SOCK"; then
        check "dead letters: sync says some changes are dead letters (exit 1)" bash -c "! '$CTL' --socket '$SOCK' sync --timeout 30"
        check "dead letters: listed with their error" bash -c "'$CTL' --socket '$SOCK' dead-letters | grep -q 'EINVAL.*invalid path.*\\.\\./evil'"
        check "dead letters: counted in the status" test "$(field '["dead_letters"]')" -ge 1
        check "retry: puts them back" bash -c "'$CTL' --socket '$SOCK' retry | grep -q 'back in the queue'"
        check "retry: an invalid path stays out of the target" test ! -e "$T/escape"
        mfs_umount "$M"
else
        not_ok "remount"
fi

# a dead letter left by one run ...
"$MFS_BUILD/tests/journal-forge" "$T/j" create '../again'
if mfs_mount "$T/src" "$T/mnt" "journal=$T/j,target=$T/tgt,socket=$SOCK"; then
        ctl sync --timeout 30 >/dev/null 2>&1
        mfs_umount "$M"
fi

# ---- unmount while a sync waits on a paused replicator ----
# The sync can never finish; the unmount must (after the drain bound), and
# the waiting client gets an answer.
if mfs_mount "$T/src" "$T/mnt" "journal=$T/j,target=$T/tgt,socket=$SOCK,drain_timeout=1"; then
        # ... is counted by the next
        stored=$(wc -l <"$T/j/deadletters.replicator" 2>/dev/null || echo 0)
        check "dead letters of an earlier run are counted in the status after a restart" bash -c \
                "[ $stored -ge 1 ] && [ \"\$('$CTL' --socket '$SOCK' status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"dead_letters\"])')\" = $stored ]"
        ctl pause >/dev/null
        echo stuck >"$M/stuck"
        timeout 20 "$CTL" --socket "$SOCK" sync >"$T/stuck-sync.out" 2>&1 &
        sync_pid=$!
        sleep 0.5
        umount "$M"
        gone=no
        for i in $(seq 100); do kill -0 "$MFS_PID" 2>/dev/null || { gone=yes; break; }; sleep 0.1; done
        check "unmount with a sync waiting on a paused replicator: the daemon exits" test "$gone" = yes
        sync_rc=0
        wait "$sync_pid" || sync_rc=$?
        check "...and the waiting sync is answered with a failure, not left to time out" \
                bash -c "[ $sync_rc -ne 0 ] && [ $sync_rc -ne 124 ]"
        check "...and what was journaled stays for the next start" bash -c \
                "[ \$('$MFS_JOURNAL_TOOL' ls '$T/j' | awk '\$1 == \"replicator\" { print \$2 }') -lt \$('$MFS_JOURNAL_TOOL' ls '$T/j' | sed -n 's/.*head seq \\([0-9]*\\).*/\\1/p') ]"
        mfs_umount "$M"
else
        not_ok "remount (paused sync)"
fi
tap_done
