# Shared helpers for the benchmarks (sourced).  A fresh loop-mounted ext4
# per run: the machine's root file system has no journal and slows down on
# repeated create/delete cycles, so numbers from it mislead.

# bench_loopfs VAR NAME SIZE: make and mount a fresh ext4 on a loop device;
# its mount point goes into variable VAR (not printed: a command
# substitution would run in a subshell and bench_cleanup would not know of
# the mount).  bench_cleanup unmounts everything made.
BENCH_MOUNTS=()
BENCH_IMAGES=()
bench_loopfs() {
        local var=$1 name=$2 size=$3 img mnt
        img=$(mktemp "/var/tmp/mirrorfs-bench-$name-XXXXXX.img")
        mnt=$(mktemp -d "/tmp/mirrorfs-bench-$name-XXXXXX")
        truncate -s "$size" "$img"
        mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$img"
        mount -o loop "$img" "$mnt"
        BENCH_MOUNTS+=("$mnt")
        BENCH_IMAGES+=("$img")
        printf -v "$var" '%s' "$mnt"
}
# bench_tmpfs VAR SIZE
bench_tmpfs() {
        local var=$1 mnt
        mnt=$(mktemp -d "/tmp/mirrorfs-bench-tmpfs-XXXXXX")
        mount -t tmpfs -o size="$2" tmpfs "$mnt"
        BENCH_MOUNTS+=("$mnt")
        printf -v "$var" '%s' "$mnt"
}
bench_cleanup() {
        local m i
        for ((i = ${#BENCH_MOUNTS[@]} - 1; i >= 0; i--)); do
                m=${BENCH_MOUNTS[$i]}
                umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
                rmdir "$m" 2>/dev/null
        done
        for i in "${BENCH_IMAGES[@]}"; do rm -f "$i"; done
}
bench_need_root() {
        if [ "$(id -u)" -ne 0 ]; then
                echo "bench: needs root (loop mounts)" >&2
                exit 77
        fi
}
