# Shared helpers of the Carevisor guest appliance.
# Sourced (". /usr/lib/carevisor/common.sh") by rcS, rcK, the CGI scripts,
# the udhcpc script and the halt helper. busybox ash, no bashisms.

CV_RUN=/run/carevisor             # tmpfs: guest RAM only
CV_DATA_DEV=/dev/vda2             # raw data partition (MBR partition 2, type 0xda)
CV_LOCK="$CV_RUN/disk.lock"       # mkdir-based lock serialising data-partition updates

# Data partition layout (512-byte sectors, no filesystem). Every record is
# ASCII, space-padded to 511 bytes and terminated by "\n" (exactly one sector):
#   sector 0: magic   "CAREVISOR-DATA-1"
#   sector 1: boot count   (decimal)
#   sector 2: disk counter (decimal)
# A sector that does not hold a decimal number (e.g. all zeros) reads as 0.
CV_MAGIC="CAREVISOR-DATA-1"
CV_SECTOR_MAGIC=0
CV_SECTOR_BOOTCOUNT=1
CV_SECTOR_DISKCOUNTER=2

cv_log() {
    echo "carevisor: $*" > /dev/console 2>/dev/null || true
}

# cv_normalize VALUE -> prints VALUE as a canonical non-negative decimal
# (leading zeros stripped; ash would read them as octal), "0" if not a number.
cv_normalize() {
    local v="$1"
    case "$v" in ''|*[!0-9]*) echo 0; return ;; esac
    v="${v#"${v%%[!0]*}"}"
    echo "${v:-0}"
}

# cv_read_record SECTOR -> prints the record stored in SECTOR (spaces, NULs dropped)
cv_read_record() {
    dd if="$CV_DATA_DEV" bs=512 skip="$1" count=1 2>/dev/null | tr -d '\000\r '
}

# cv_read_num SECTOR -> prints the number stored in SECTOR
cv_read_num() {
    cv_normalize "$(cv_read_record "$1")"
}

# cv_read_num_checked SECTOR -> like cv_read_num, but the exit status is 1 (and
# the number printed 0) when the sector cannot be read (an I/O error), so that
# a failed read is not mistaken for a stored 0
cv_read_num_checked() {
    local f="$CV_RUN/sector.$$.$1" n
    if dd if="$CV_DATA_DEV" of="$f" bs=512 skip="$1" count=1 2>/dev/null \
        && n=$(wc -c < "$f") && [ "$n" -eq 512 ]; then
        cv_normalize "$(tr -d '\000\r ' < "$f")"
        rm -f "$f"
        return 0
    fi
    rm -f "$f"
    echo 0
    return 1
}

# cv_write_record SECTOR TEXT -> writes one sector and flushes it to the
# virtual disk (fsync on the block device => virtio-blk FLUSH) before returning.
cv_write_record() {
    printf '%-511.511s\n' "$2" |
        dd of="$CV_DATA_DEV" bs=512 seek="$1" count=1 iflag=fullblock conv=notrunc,fsync 2>/dev/null
}

# cv_lock [DIR] / cv_unlock [DIR]: mkdir-based lock, $CV_LOCK (the data
# partition) unless another lock directory is named
cv_lock() {
    local lock="${1:-$CV_LOCK}" i=0
    while ! mkdir "$lock" 2>/dev/null; do
        i=$((i + 1))
        if [ "$i" -ge 500 ]; then   # ~10 s: the holder died, break the lock
            rmdir "$lock" 2>/dev/null
            i=0
        fi
        usleep 20000
    done
}

cv_unlock() {
    rmdir "${1:-$CV_LOCK}" 2>/dev/null || true
}

# cv_read_num_file FILE -> prints the number in FILE (a tmpfs file that another
# process rewrites with "echo N > FILE"), 0 if there is none
cv_read_num_file() {
    local c="" i=0
    [ -e "$1" ] || { echo 0; return; }
    while [ "$i" -lt 5 ]; do
        read -r c < "$1" 2>/dev/null
        [ -n "$c" ] && break   # empty only while the writer rewrites the file
        i=$((i + 1))
    done
    cv_normalize "$c"
}

# cv_counter -> prints the in-memory 100 ms counter
cv_counter() {
    cv_read_num_file "$CV_RUN/counter"
}

# cv_ipv4_ok ADDRESS -> true if ADDRESS is a dotted-quad IPv4 address
# (four decimal octets 0-255, no leading zeros)
cv_ipv4_ok() {
    local a="$1" o old_ifs="$IFS"
    case "$a" in ''|*[!0-9.]*|.*|*.|*..*) return 1 ;; esac
    IFS=.
    set -- $a
    IFS="$old_ifs"
    [ "$#" = 4 ] || return 1
    for o; do
        case "$o" in 0?*|????*) return 1 ;; esac
        [ "$o" -le 255 ] || return 1
    done
    return 0
}

# cv_json_string VALUE -> VALUE with the characters JSON cannot hold raw dropped
cv_json_string() {
    printf '%s' "$1" | tr -d '"\\\000-\037'
}
