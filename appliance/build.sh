#!/usr/bin/env bash
# appliance/build.sh - build the Carevisor "guest appliance": a tiny BIOS-bootable
# Linux VM disk image (qcow2) used by tests and demos. See appliance/README.md.
#
# Usage: appliance/build.sh [--out DIR] [--force] [--keep-work]
#   --out DIR     output directory (default: <repo>/build/appliance); writes
#                 DIR/carevisor-appliance.qcow2 and DIR/carevisor-appliance.json
#   --force       rebuild even if DIR already holds an image with the same cache key
#   --keep-work   keep the unpacked trees in DIR/work (downloaded .debs are always kept)
#
# Environment: SOURCE_DATE_EPOCH (default 1704067200 = 2024-01-01T00:00:00Z) fixes
#   every timestamp written into the image; CAREVISOR_INITRD_COMPRESSION=gzip|none
#   (default gzip); CAREVISOR_CMDLINE_EXTRA is appended to the kernel command line
#   (e.g. "carevisor.debug" prints boot-step timestamps on the console).
#
# Build-host dependencies (nothing is mounted, root is not needed):
# Requires (Debian packages): apt dpkg coreutils util-linux findutils sed grep mawk cpio gzip dosfstools mtools syslinux syslinux-common qemu-utils
#   (xz-utils / zstd only if a future kernel ships compressed modules; the
#   busybox-static package need not be installed: it is downloaded like the kernel)
# Downloaded with "apt-get download" and unpacked with "dpkg-deb -x" (never installed):
#   linux-image-cloud-amd64 -> the versioned linux-image-<abi>-cloud-amd64 it depends on
#   busybox-static
set -euo pipefail

SCRIPT_PATH="$(readlink -f "${BASH_SOURCE[0]}")"
APPLIANCE_DIR="$(dirname "$SCRIPT_PATH")"
REPO_ROOT="$(dirname "$APPLIANCE_DIR")"
GUEST_DIR="$APPLIANCE_DIR/guest"

FORMAT_VERSION=1
IMAGE_NAME=carevisor-appliance.qcow2
MANIFEST_NAME=carevisor-appliance.json
KERNEL_META_PKG=linux-image-cloud-amd64
BUSYBOX_PKG=busybox-static
SDE="${SOURCE_DATE_EPOCH:-1704067200}"
INITRD_COMPRESSION="${CAREVISOR_INITRD_COMPRESSION:-gzip}"
KERNEL_CMDLINE="console=ttyS0 loglevel=3 no_timer_check edd=off mitigations=off cryptomgr.notests 8250.nr_uarts=1 i8042.noaux initcall_blacklist=crypto_kdf108_init,init_kprobe_trace${CAREVISOR_CMDLINE_EXTRA:+ $CAREVISOR_CMDLINE_EXTRA}"

# Disk layout (512-byte sectors)
DISK_SIZE_MIB=256
DISK_SIGNATURE=0x43564131          # "1AVC" little endian; fixed for reproducibility
P1_START=2048                      # 1 MiB
P1_SECTORS=131072                  # 64 MiB FAT16: syslinux + kernel + initrd
P1_TYPE=0x0e                       # FAT16 (LBA)
P2_START=$((P1_START + P1_SECTORS))  # 133120
P2_SECTORS=2048                    # 1 MiB raw data (counters), no filesystem
P2_TYPE=0xda                       # "non-FS data"
DATA_MAGIC=CAREVISOR-DATA-1       # sector 0 of partition 2
FAT_VOLUME_ID=43564931
FAT_LABEL=CAREVISOR

# Kernel options needed by the guest: CONFIG symbol, module name, required?
# (power button first: rcS starts acpid as soon as button+evdev are in)
WANTED_MODULES=(
    "ACPI_BUTTON button optional"
    "INPUT_EVDEV evdev optional"
    "VIRTIO_PCI virtio_pci required"
    "VIRTIO_BLK virtio_blk required"
    "VIRTIO_NET virtio_net required"
    "FW_CFG_SYSFS qemu_fw_cfg optional"
    "PVPANIC_MMIO pvpanic_mmio optional"
)

log() { printf '[appliance] %s\n' "$*"; }
die() { printf 'appliance/build.sh: error: %s\n' "$*" >&2; exit 1; }
trap 'rc=$?; printf "appliance/build.sh: error: command failed (exit %s) at line %s: %s\n" "$rc" "$LINENO" "$BASH_COMMAND" >&2; exit "$rc"' ERR

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$SCRIPT_PATH"; }

OUT_DIR="$REPO_ROOT/build/appliance"
FORCE=0
KEEP_WORK=0
while [ $# -gt 0 ]; do
    case "$1" in
        --out) [ $# -ge 2 ] || die "--out needs a directory"; OUT_DIR="$2"; shift 2 ;;
        --out=*) OUT_DIR="${1#--out=}"; shift ;;
        --force) FORCE=1; shift ;;
        --keep-work) KEEP_WORK=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
case "$INITRD_COMPRESSION" in gzip|none) ;; *) die "CAREVISOR_INITRD_COMPRESSION must be gzip or none" ;; esac
case "$SDE" in ''|*[!0-9]*) die "SOURCE_DATE_EPOCH must be a number of seconds" ;; esac
export SOURCE_DATE_EPOCH="$SDE"   # honoured by mkfs.fat/mtools/syslinux' mtools calls
export LC_ALL=C TZ=UTC
export MTOOLS_SKIP_CHECK=1 MTOOLS_NO_VFAT=1
umask 022

# ---------------------------------------------------------------- tools
need() { # COMMAND DEBIAN-PACKAGE
    command -v "$1" >/dev/null 2>&1 || die "missing tool '$1' - install the Debian package '$2' (apt-get install $2)"
}
need apt-cache apt
need apt-get apt
need dpkg-deb dpkg
need dpkg-query dpkg
need sha256sum coreutils
need awk mawk
need find findutils
need truncate coreutils
need dd coreutils
need flock util-linux
need cpio cpio
need gzip gzip
need mkfs.fat dosfstools
need mcopy mtools
need mdir mtools
need syslinux syslinux
need qemu-img qemu-utils
MBR_BIN=/usr/lib/syslinux/mbr/mbr.bin
[ -r "$MBR_BIN" ] || die "missing $MBR_BIN - install the Debian package 'syslinux-common'"
[ -r /usr/lib/syslinux/modules/bios/ldlinux.c32 ] \
    || die "missing /usr/lib/syslinux/modules/bios/ldlinux.c32 - install the Debian package 'syslinux-common'"
[ -d "$GUEST_DIR" ] || die "guest files not found in $GUEST_DIR"

pkg_installed_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown; }

mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
# build output never belongs in git
[ -e "$OUT_DIR/.gitignore" ] || echo '*' > "$OUT_DIR/.gitignore"
IMAGE="$OUT_DIR/$IMAGE_NAME"
MANIFEST="$OUT_DIR/$MANIFEST_NAME"
WORK="$OUT_DIR/work"

# one build per output directory at a time (parallel test JVMs may call us)
exec 9>"$OUT_DIR/.build.lock"
flock 9

# ---------------------------------------------------------------- cache key
sources_hash() {
    {
        echo "script $(sha256sum < "$SCRIPT_PATH" | cut -d' ' -f1)"
        (cd "$GUEST_DIR" && find . -type f -o -type l | sort | while read -r f; do
            if [ -L "$f" ]; then echo "guest $f -> $(readlink "$f")"
            else echo "guest $f $(sha256sum < "$f" | cut -d' ' -f1)"; fi
        done)
    } | sha256sum | cut -d' ' -f1
}
SOURCES_HASH="$(sources_hash)"

manifest_field() { # KEY -> value of a top-level "KEY": "value" line of the manifest
    sed -n "s/^  \"$1\": \"\\([^\"]*\\)\",\{0,1\}\$/\\1/p" "$MANIFEST" 2>/dev/null | head -n1
}

cached_image_ok() { # EXPECTED-FIELD EXPECTED-VALUE
    [ -f "$MANIFEST" ] && [ -f "$IMAGE" ] || return 1
    [ "$(manifest_field "$1")" = "$2" ] || return 1
    [ "$(sha256sum < "$IMAGE" | cut -d' ' -f1)" = "$(manifest_field imageSha256)" ]
}

apt_candidate() { # PACKAGE -> candidate version or empty
    apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p' | grep -v '^(none)$' | head -n1 || true
}

APT_INFO=""
apt_show() { # one apt-cache call (it is slow here: no pkgcache.bin) for both inputs
    APT_INFO="$(apt-cache show --no-all-versions "$KERNEL_META_PKG" "$BUSYBOX_PKG" 2>/dev/null || true)"
}
apt_field() { # PACKAGE FIELD -> value from the candidate record in $APT_INFO
    awk -v p="$1" -v f="$2" 'BEGIN { RS = ""; FS = "\n" }
        { pkg = ""; val = ""
          for (i = 1; i <= NF; i++) {
              if ($i ~ /^Package: /) pkg = substr($i, 10)
              if (index($i, f ": ") == 1) val = substr($i, length(f) + 3)
          }
          if (pkg == p) { print val; exit } }' <<< "$APT_INFO"
}

log "resolving input package versions with apt-cache"
apt_show
if [ -z "$(apt_field "$KERNEL_META_PKG" Version)" ] && [ "$(id -u)" = 0 ]; then
    log "apt-cache knows no $KERNEL_META_PKG; running apt-get update once"
    apt-get update -qq || true
    apt_show
fi
KERNEL_META_VER="$(apt_field "$KERNEL_META_PKG" Version)"
if [ -z "$KERNEL_META_VER" ]; then
    if [ "$FORCE" = 0 ] && cached_image_ok sourcesHash "$SOURCES_HASH"; then
        log "WARNING: apt-cache knows no '$KERNEL_META_PKG' (apt lists missing?); keeping the cached image built from the same sources"
        log "cached: $IMAGE"
        exit 0
    fi
    die "apt-cache has no candidate for '$KERNEL_META_PKG' - run 'apt-get update' (as root) first"
fi
# "Depends: linux-image-6.1.0-NN-cloud-amd64 (= 6.1.x-y)"
KERNEL_DEP="$(apt_field "$KERNEL_META_PKG" Depends | tr ',' '\n' | grep -E '^ *linux-image-[0-9][^ ]*-cloud-amd64' | head -n1 || true)"
KERNEL_PKG="$(sed -n 's/^ *\(linux-image-[^ ]*\).*/\1/p' <<< "$KERNEL_DEP")"
[ -n "$KERNEL_PKG" ] || die "cannot resolve $KERNEL_META_PKG=$KERNEL_META_VER to a linux-image-*-cloud-amd64 package"
KERNEL_VER="$(sed -n 's/.*(= *\([^)]*\)).*/\1/p' <<< "$KERNEL_DEP")"
[ -n "$KERNEL_VER" ] || KERNEL_VER="$(apt_candidate "$KERNEL_PKG")"
[ -n "$KERNEL_VER" ] || die "apt-cache has no candidate version for $KERNEL_PKG"
BUSYBOX_VER="$(apt_field "$BUSYBOX_PKG" Version)"
[ -n "$BUSYBOX_VER" ] || die "apt-cache has no candidate for '$BUSYBOX_PKG' - run 'apt-get update'"

SYSLINUX_VER="$(pkg_installed_version syslinux)"
SYSLINUX_COMMON_VER="$(pkg_installed_version syslinux-common)"
DOSFSTOOLS_VER="$(pkg_installed_version dosfstools)"
MTOOLS_VER="$(pkg_installed_version mtools)"
QEMU_UTILS_VER="$(pkg_installed_version qemu-utils)"
CPIO_VER="$(pkg_installed_version cpio)"
GZIP_VER="$(pkg_installed_version gzip)"

CACHE_KEY="$({
    echo "carevisor-appliance format $FORMAT_VERSION"
    echo "sources $SOURCES_HASH"
    echo "kernel-meta $KERNEL_META_PKG $KERNEL_META_VER"
    echo "kernel $KERNEL_PKG $KERNEL_VER"
    echo "busybox $BUSYBOX_PKG $BUSYBOX_VER"
    echo "syslinux $SYSLINUX_VER syslinux-common $SYSLINUX_COMMON_VER"
    echo "tools dosfstools $DOSFSTOOLS_VER mtools $MTOOLS_VER qemu-utils $QEMU_UTILS_VER cpio $CPIO_VER gzip $GZIP_VER"
    echo "source-date-epoch $SDE initrd $INITRD_COMPRESSION"
    echo "cmdline $KERNEL_CMDLINE"
} | sha256sum | cut -d' ' -f1)"

log "kernel:  $KERNEL_META_PKG $KERNEL_META_VER -> $KERNEL_PKG $KERNEL_VER"
log "busybox: $BUSYBOX_PKG $BUSYBOX_VER"
log "cache key: $CACHE_KEY"
if [ "$FORCE" = 0 ] && cached_image_ok cacheKey "$CACHE_KEY"; then
    log "cached: $IMAGE is up to date (same cache key); use --force to rebuild"
    exit 0
fi

# ---------------------------------------------------------------- download
DEBS="$WORK/debs"
mkdir -p "$DEBS"
fetch_deb() { # PACKAGE VERSION -> prints the path of the .deb in $DEBS
    local pkg="$1" ver="$2" f
    for f in "$DEBS/${pkg}"_*.deb; do
        [ -e "$f" ] || continue
        if [ "$(dpkg-deb -f "$f" Package 2>/dev/null)" = "$pkg" ] \
                && [ "$(dpkg-deb -f "$f" Version 2>/dev/null)" = "$ver" ]; then
            log "reusing $(basename "$f")" >&2
            echo "$f"
            return 0
        fi
        rm -f "$f"
    done
    log "apt-get download $pkg=$ver" >&2
    local sandbox=()
    [ "$(id -u)" = 0 ] && sandbox=(-o APT::Sandbox::User=root)
    (cd "$DEBS" && apt-get download -q "${sandbox[@]}" "$pkg=$ver" >&2) \
        || die "apt-get download $pkg=$ver failed (network? apt lists outdated? try apt-get update)"
    for f in "$DEBS/${pkg}"_*.deb; do
        [ -e "$f" ] && [ "$(dpkg-deb -f "$f" Version)" = "$ver" ] && { echo "$f"; return 0; }
    done
    die "apt-get download $pkg=$ver produced no .deb in $DEBS"
}
KERNEL_DEB="$(fetch_deb "$KERNEL_PKG" "$KERNEL_VER")"
BUSYBOX_DEB="$(fetch_deb "$BUSYBOX_PKG" "$BUSYBOX_VER")"
for f in "$DEBS"/*.deb; do   # drop downloads of superseded versions
    [ "$f" = "$KERNEL_DEB" ] || [ "$f" = "$BUSYBOX_DEB" ] || rm -f "$f"
done

# ---------------------------------------------------------------- unpack
KTREE="$WORK/kernel"
BBTREE="$WORK/busybox"
ROOT="$WORK/initramfs"
STAGE="$WORK/stage"
rm -rf "$KTREE" "$BBTREE" "$ROOT" "$STAGE"
mkdir -p "$KTREE" "$BBTREE" "$ROOT" "$STAGE"
log "unpacking $(basename "$KERNEL_DEB")"
dpkg-deb -x "$KERNEL_DEB" "$KTREE"
log "unpacking $(basename "$BUSYBOX_DEB")"
dpkg-deb -x "$BUSYBOX_DEB" "$BBTREE"

BB="$BBTREE/bin/busybox"
[ -x "$BB" ] || die "$BUSYBOX_DEB has no bin/busybox"
"$BB" true 2>/dev/null || die "the busybox from $BUSYBOX_PKG does not run on this host (not amd64?)"

set -- "$KTREE"/lib/modules/*/
[ $# = 1 ] && [ -d "$1" ] || die "expected exactly one lib/modules/<release> in $KERNEL_PKG"
KREL="$(basename "$1")"
KMOD="$KTREE/lib/modules/$KREL"
VMLINUZ="$KTREE/boot/vmlinuz-$KREL"
KCONFIG="$KTREE/boot/config-$KREL"
[ -f "$VMLINUZ" ] || die "$KERNEL_PKG has no boot/vmlinuz-$KREL"
[ -f "$KCONFIG" ] || die "$KERNEL_PKG has no boot/config-$KREL"
log "kernel release $KREL"

# ---------------------------------------------------------------- modules
if [ ! -f "$KMOD/modules.dep" ]; then
    # Debian generates modules.dep in the postinst; we never install, so build it
    log "generating modules.dep with busybox depmod (the package ships none)"
    "$BB" depmod -b "$KTREE" "$KREL"
fi
[ -s "$KMOD/modules.dep" ] || die "no modules.dep for $KREL"

declare -A MOD_PATH=() MOD_DEPS=() MOD_STATE=()
modname() { local b="${1##*/}"; b="${b%%.ko*}"; echo "${b//-/_}"; }
while IFS= read -r line; do
    target="${line%%:*}"
    deps="${line#*:}"
    name="$(modname "$target")"
    MOD_PATH[$name]="$target"
    names=""
    for d in $deps; do names="$names $(modname "$d")"; done
    MOD_DEPS[$name]="$names"
done < "$KMOD/modules.dep"

MOD_ORDER=()
visit() { # depth-first: dependencies first
    local m="$1" d
    case "${MOD_STATE[$m]:-}" in
        done) return 0 ;;
        active) die "module dependency cycle at $m" ;;
    esac
    [ -n "${MOD_PATH[$m]:-}" ] || die "module $m not found in modules.dep of $KREL"
    MOD_STATE[$m]=active
    for d in ${MOD_DEPS[$m]}; do visit "$d"; done
    MOD_STATE[$m]=done
    MOD_ORDER+=("$m")
}
for w in "${WANTED_MODULES[@]}"; do
    read -r sym mod req <<< "$w"
    val="$(sed -n "s/^CONFIG_${sym}=//p" "$KCONFIG")"
    case "$val" in
        y) log "CONFIG_$sym=y (built in): nothing to load" ;;
        m) log "CONFIG_$sym=m: module $mod"; visit "$mod" ;;
        *) [ "$req" = required ] && die "kernel $KREL lacks CONFIG_$sym (needed by the guest)"
           log "WARNING: kernel $KREL lacks CONFIG_$sym; skipping $mod" ;;
    esac
done
mkdir -p "$ROOT/lib/modules"
for m in "${MOD_ORDER[@]}"; do
    src="$KMOD/${MOD_PATH[$m]}"
    dst="$ROOT/lib/modules/$m.ko"
    case "$src" in
        *.ko) cp "$src" "$dst" ;;
        *.ko.xz) need xz xz-utils; xz -dc "$src" > "$dst" ;;
        *.ko.zst) need zstd zstd; zstd -q -dc "$src" > "$dst" ;;
        *.ko.gz) gzip -dc "$src" > "$dst" ;;
        *) die "unsupported module file $src" ;;
    esac
done
log "modules (load order): ${MOD_ORDER[*]}"

# ---------------------------------------------------------------- initramfs tree
log "assembling the initramfs"
(cd "$ROOT" && mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev run tmp var/log root www)
cp -R "$GUEST_DIR"/. "$ROOT"/
{
    echo "# generated by appliance/build.sh from modules.dep of $KREL: insmod order"
    printf '%s\n' "${MOD_ORDER[@]}"
} > "$ROOT/etc/modules.list"
cp "$BB" "$ROOT/bin/busybox"
"$BB" --list-full | sort | while read -r applet; do
    [ -e "$ROOT/$applet" ] || [ -L "$ROOT/$applet" ] || ln -s /bin/busybox "$ROOT/$applet"
done
ln -sfn bin/busybox "$ROOT/init"
# normalise metadata: modes from content (scripts with #! are executable), fixed mtimes
find "$ROOT" -type d -exec chmod 0755 {} +
find "$ROOT" -type f -exec chmod 0644 {} +
find "$ROOT" -type f -exec sh -c 'for f; do [ "$(head -c 2 "$f")" = "#!" ] && chmod 0755 "$f"; done; true' sh {} +
chmod 0755 "$ROOT/bin/busybox"
chmod 1777 "$ROOT/tmp"
chmod 0700 "$ROOT/root"
find "$ROOT" -exec touch -h -d "@$SDE" {} +

INITRD="$STAGE/initrd.img"
(cd "$ROOT" && find . -mindepth 1 | sort | cpio --quiet -o -H newc -R 0:0 --reproducible) > "$STAGE/initrd.cpio"
case "$INITRD_COMPRESSION" in
    gzip) gzip -n -9 -c "$STAGE/initrd.cpio" > "$INITRD" ;;
    none) cp "$STAGE/initrd.cpio" "$INITRD" ;;
esac
log "initrd: $(stat -c %s "$INITRD") bytes ($INITRD_COMPRESSION), cpio $(stat -c %s "$STAGE/initrd.cpio") bytes"

# ---------------------------------------------------------------- boot partition (FAT16 + syslinux)
cp "$VMLINUZ" "$STAGE/vmlinuz"
cat > "$STAGE/syslinux.cfg" <<EOF
# Carevisor guest appliance - generated by appliance/build.sh
DEFAULT carevisor
PROMPT 0
TIMEOUT 0
NOESCAPE 1
LABEL carevisor
  LINUX /vmlinuz
  INITRD /initrd.img
  APPEND $KERNEL_CMDLINE
EOF
touch -d "@$SDE" "$STAGE/vmlinuz" "$STAGE/initrd.img" "$STAGE/syslinux.cfg"

P1="$STAGE/part1.img"
log "formatting partition 1: FAT16, $((P1_SECTORS / 2048)) MiB, volume id $FAT_VOLUME_ID"
mkfs.fat --invariant -C -F 16 -n "$FAT_LABEL" -i "$FAT_VOLUME_ID" -h "$P1_START" -S 512 \
    "$P1" $((P1_SECTORS / 2)) > /dev/null
log "installing syslinux $SYSLINUX_VER into partition 1"
syslinux --install "$P1"
for f in syslinux.cfg vmlinuz initrd.img; do
    mcopy -m -i "$P1" "$STAGE/$f" "::/$f"
done
mdir -i "$P1" ::/ | sed -n 's/^\([a-zA-Z].*[0-9]\)  *[0-9-]*  *[0-9:]* *$/[appliance]   \1/p'

# ---------------------------------------------------------------- disk: MBR + partitions
le32() { # VALUE -> printf escape sequence, little endian
    local v=$1
    printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((v & 255)) $(((v >> 8) & 255)) $(((v >> 16) & 255)) $(((v >> 24) & 255))
}
chs() { # LBA -> printf escape sequence of the CHS triple (255 heads, 63 sectors/track)
    local lba=$1 c h s
    c=$((lba / (255 * 63)))
    if [ "$c" -gt 1023 ]; then printf '\\xfe\\xff\\xff'; return; fi
    h=$(((lba / 63) % 255)); s=$((lba % 63 + 1))
    printf '\\x%02x\\x%02x\\x%02x' "$h" $((s | ((c >> 2) & 0xc0))) $((c & 255))
}
part_entry() { # STATUS TYPE START SECTORS -> 16 bytes
    printf "$(printf '\\x%02x' "$1")$(chs "$3")$(printf '\\x%02x' "$2")$(chs $(($3 + $4 - 1)))$(le32 "$3")$(le32 "$4")"
}
RAW="$STAGE/disk.raw"
log "writing the MBR disk: $DISK_SIZE_MIB MiB, p1 FAT16 @$P1_START+$P1_SECTORS (boot), p2 type $P2_TYPE @$P2_START+$P2_SECTORS"
rm -f "$RAW"
truncate -s "${DISK_SIZE_MIB}M" "$RAW"
dd if="$MBR_BIN" of="$RAW" bs=440 count=1 conv=notrunc status=none
{
    printf "$(le32 "$DISK_SIGNATURE")\\x00\\x00"
    part_entry 0x80 "$P1_TYPE" "$P1_START" "$P1_SECTORS"
    part_entry 0x00 "$P2_TYPE" "$P2_START" "$P2_SECTORS"
    head -c 32 /dev/zero
    printf '\x55\xaa'
} | dd of="$RAW" bs=1 seek=440 conv=notrunc status=none
[ "$(stat -c %s "$RAW")" = $((DISK_SIZE_MIB * 1048576)) ] || die "MBR write changed the disk size"
dd if="$P1" of="$RAW" bs=512 seek="$P1_START" conv=notrunc,sparse status=none
# partition 2: records as defined in guest/usr/lib/carevisor/common.sh (the guest
# re-initialises them itself if the magic is missing)
log "initialising partition 2: magic $DATA_MAGIC, bootCount 0, diskCounter 0"
printf '%-511.511s\n' "$DATA_MAGIC" 0 0 \
    | dd of="$RAW" bs=512 seek="$P2_START" count=3 iflag=fullblock conv=notrunc status=none

log "converting to qcow2"
rm -f "$IMAGE.tmp"
qemu-img convert -f raw -O qcow2 "$RAW" "$IMAGE.tmp"

# ---------------------------------------------------------------- manifest
sha() { sha256sum < "$1" | cut -d' ' -f1; }
IMAGE_SHA="$(sha "$IMAGE.tmp")"
KERNEL_SHA="$(sha "$VMLINUZ")"
INITRD_SHA="$(sha "$INITRD")"
BUSYBOX_SHA="$(sha "$BB")"
json_list() { local first=1 x; for x in "$@"; do [ $first = 1 ] || printf ', '; printf '"%s"' "$x"; first=0; done; }
rm -f "$MANIFEST"
mv -f "$IMAGE.tmp" "$IMAGE"
cat > "$MANIFEST.tmp" <<EOF
{
  "formatVersion": $FORMAT_VERSION,
  "image": "$IMAGE_NAME",
  "imageFormat": "qcow2",
  "imageSha256": "$IMAGE_SHA",
  "virtualSizeBytes": $((DISK_SIZE_MIB * 1048576)),
  "cacheKey": "$CACHE_KEY",
  "sourcesHash": "$SOURCES_HASH",
  "buildDate": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "sourceDateEpoch": $SDE,
  "inputs": {
    "kernel": {"metaPackage": "$KERNEL_META_PKG", "metaVersion": "$KERNEL_META_VER", "package": "$KERNEL_PKG", "version": "$KERNEL_VER", "release": "$KREL", "debSha256": "$(sha "$KERNEL_DEB")"},
    "busybox": {"package": "$BUSYBOX_PKG", "version": "$BUSYBOX_VER", "debSha256": "$(sha "$BUSYBOX_DEB")"},
    "syslinux": {"package": "syslinux", "version": "$SYSLINUX_VER", "commonPackage": "syslinux-common", "commonVersion": "$SYSLINUX_COMMON_VER"},
    "tools": {"dosfstools": "$DOSFSTOOLS_VER", "mtools": "$MTOOLS_VER", "qemu-utils": "$QEMU_UTILS_VER", "cpio": "$CPIO_VER", "gzip": "$GZIP_VER"}
  },
  "artifacts": {
    "kernelSha256": "$KERNEL_SHA",
    "initrdSha256": "$INITRD_SHA",
    "initrdCompression": "$INITRD_COMPRESSION",
    "initrdBytes": $(stat -c %s "$INITRD"),
    "busyboxSha256": "$BUSYBOX_SHA"
  },
  "kernelModules": [$(json_list "${MOD_ORDER[@]}")],
  "kernelCommandLine": "$KERNEL_CMDLINE",
  "layout": {
    "partitionTable": "mbr",
    "diskSignature": "$(printf '0x%08x' "$DISK_SIGNATURE")",
    "partitions": [
      {"number": 1, "type": "$P1_TYPE", "bootable": true, "startSector": $P1_START, "sectors": $P1_SECTORS, "content": "FAT16 volume $FAT_LABEL: ldlinux.sys, ldlinux.c32, syslinux.cfg, vmlinuz, initrd.img"},
      {"number": 2, "type": "$P2_TYPE", "bootable": false, "startSector": $P2_START, "sectors": $P2_SECTORS, "content": "raw records, 512 bytes each: sector 0 magic CAREVISOR-DATA-1, sector 1 bootCount, sector 2 diskCounter"}
    ]
  },
  "guest": {
    "readyMarker": "CAREVISOR-GUEST-READY boot_id=",
    "shutdownMarker": "CAREVISOR-GUEST-SHUTDOWN action=",
    "httpPort": 80,
    "endpoints": ["GET /", "GET /cgi-bin/status", "GET /cgi-bin/disk-counter", "POST /cgi-bin/disk-counter", "POST /cgi-bin/disk-counter?set=N", "POST /cgi-bin/power?action=poweroff|reboot", "GET /cgi-bin/dirty", "POST /cgi-bin/dirty?mib=N", "DELETE /cgi-bin/dirty"],
    "networkFwCfg": {"name": "opt/org.carevisor/net", "format": "ip=ADDRESS/PREFIX [gw=ADDRESS]"}
  }
}
EOF
mv -f "$MANIFEST.tmp" "$MANIFEST"

if [ "$KEEP_WORK" = 0 ]; then
    rm -rf "$KTREE" "$BBTREE" "$ROOT" "$STAGE"
fi
log "image:    $IMAGE ($(stat -c %s "$IMAGE") bytes, sha256 $IMAGE_SHA)"
log "manifest: $MANIFEST"
