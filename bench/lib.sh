# Shared helpers for the benchmarks (sourced).  A fresh loop-mounted ext4
# per run: the machine's root file system has no journal and slows down on
# repeated create/delete cycles, so numbers from it mislead.

# bench_loopfs NAME SIZE: make and mount a fresh ext4 on a loop device;
# prints its mount point.  bench_cleanup unmounts everything made.
BENCH_MOUNTS=()
BENCH_IMAGES=()
bench_loopfs() {
        local name=$1 size=$2 img mnt
        img=$(mktemp "/var/tmp/mirrorfs-bench-$name-XXXXXX.img")
        mnt=$(mktemp -d "/tmp/mirrorfs-bench-$name-XXXXXX")
        truncate -s "$size" "$img"
        mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$img"
        mount -o loop "$img" "$mnt"
        BENCH_MOUNTS+=("$mnt")
        BENCH_IMAGES+=("$img")
        echo "$mnt"
}
bench_tmpfs() {
        local mnt
        mnt=$(mktemp -d "/tmp/mirrorfs-bench-tmpfs-XXXXXX")
        mount -t tmpfs -o size="$1" tmpfs "$mnt"
        BENCH_MOUNTS+=("$mnt")
        echo "$mnt"
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
