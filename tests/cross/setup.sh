#!/usr/bin/env bash
# tests/cross/setup.sh - make foreign Rust targets available for the cross layout check.
#
# Installs Debian's own compiler (package rustc-web) as /usr/bin/rustc and unpacks the
# matching Debian std rlibs of other architectures into /usr/lib/rustlib/<triple>/, so that
#     RUSTC=/usr/bin/rustc cargo check --target i686-unknown-linux-gnu
# works on this x86_64 machine (rustup cannot download foreign std here).
#
# The rustup toolchain stays the one on PATH: nothing is put in front of ~/.cargo/bin,
# cargo-web (Debian's cargo) is not installed, and /usr/bin/rustc is only ever used through
# RUSTC=/usr/bin/rustc.
#
# Idempotent: when the pinned set is already in place it only checks versions and exits.
#
# Environment:
#   CROSS_EXTRA_TARGETS  extra triples besides i686 and s390x, space/comma separated, or "all":
#                        armv7-unknown-linux-gnueabihf aarch64-unknown-linux-gnu
#                        powerpc64le-unknown-linux-gnu
#   CROSS_PIN_VERSION    override the pinned Debian version (for testing the fallback)
#   CROSS_STRICT_PIN=1   fail instead of falling back to another version when the pinned
#                        one is no longer in the archive
#   CROSS_APT_STATE      private apt lists/cache dir (default /var/cache/bpfgen-cross/apt)
#
# Why not `dpkg --add-architecture` + a multiarch install: a multiarch install of
# libstd-rust-web-dev:i386 fails on dependency skew, and adding foreign architectures to the
# machine's dpkg would make every later `apt-get update` of every user fetch their indices.
# Instead apt runs with a private lists dir and APT::Architectures that include the foreign
# architectures; the system's sources and dpkg configuration are left untouched.
#
# Only libstd-rust-web-dev:<arch> is fetched: it holds all the rlibs of
# /usr/lib/rustlib/<triple>/lib. libstd-rust-web-1.85:<arch> only holds librustc_driver.so of
# that architecture (a compiler for running ON that architecture) and is not needed.
set -euo pipefail

# ---- pins ---------------------------------------------------------------------------------
# Compiler and all std packages must have exactly this version (rustc rejects rlibs built by
# any other compiler with E0514). 1.85 is also the workspace's rust-version (MSRV).
PIN_VERSION="${CROSS_PIN_VERSION:-1.85.0+dfsg3-1~deb12u3}"
CORE_TARGETS="i686-unknown-linux-gnu s390x-unknown-linux-gnu"
ALL_EXTRA_TARGETS="armv7-unknown-linux-gnueabihf aarch64-unknown-linux-gnu powerpc64le-unknown-linux-gnu"
RUSTLIB=/usr/lib/rustlib
STAMP_NAME=.bpfgen-cross-version
APT_STATE="${CROSS_APT_STATE:-/var/cache/bpfgen-cross/apt}"

T0=$(date +%s.%N)
say()  { printf 'cross-setup: %s\n' "$*"; }
warn() { printf 'cross-setup: WARNING: %s\n' "$*" >&2; }
die()  { printf 'cross-setup: ERROR: %s\n' "$*" >&2; exit 1; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1fs", b - a }'; }

deb_arch_of() {
    case "$1" in
        i686-unknown-linux-gnu) echo i386 ;;
        s390x-unknown-linux-gnu) echo s390x ;;
        armv7-unknown-linux-gnueabihf) echo armhf ;;
        aarch64-unknown-linux-gnu) echo arm64 ;;
        powerpc64le-unknown-linux-gnu) echo ppc64el ;;
        riscv64gc-unknown-linux-gnu)
            die "riscv64gc-unknown-linux-gnu: Debian 12 (bookworm) has no riscv64 port, so there is no Debian std for it" ;;
        mips64el-unknown-linux-gnuabi64)
            die "mips64el: bookworm only has libstd-rust-web-dev 1.70 for mips64el, which does not match any x86_64 rustc-web" ;;
        *) die "unsupported target '$1' (supported: $CORE_TARGETS $ALL_EXTRA_TARGETS)" ;;
    esac
}

# ---- which targets ------------------------------------------------------------------------
extra="${CROSS_EXTRA_TARGETS:-}"
extra="${extra//,/ }"
[ "$extra" = all ] && extra="$ALL_EXTRA_TARGETS"
TARGETS=""
for t in $CORE_TARGETS $extra; do
    case " $TARGETS " in *" $t "*) ;; *) TARGETS="$TARGETS $t" ;; esac
done
TARGETS="${TARGETS# }"
for t in $TARGETS; do deb_arch_of "$t" >/dev/null; done

NATIVE_ARCH=$(dpkg --print-architecture 2>/dev/null) || die "dpkg not found: this script needs Debian (12/bookworm)"
[ "$NATIVE_ARCH" = amd64 ] || die "host architecture is $NATIVE_ARCH; this setup is written for amd64 hosts"

mm_of() { local v="$1"; v="${v%%+*}"; echo "${v%.*}"; }   # 1.85.0+dfsg3-1~deb12u3 -> 1.85
pkg_version() { dpkg-query -W -f '${db:Status-Abbrev}|${Version}' "$1" 2>/dev/null | awk -F'|' '$1 ~ /^ii/ { print $2 }'; }

# Is the complete set for version $1 installed? Prints why not on stdout.
installed_set_ok() {
    local v="$1" mm t got
    mm=$(mm_of "$v")
    for p in rustc-web libstd-rust-web-dev "libstd-rust-web-$mm"; do
        got=$(pkg_version "$p")
        [ "$got" = "$v" ] || { echo "$p is '${got:-not installed}', want $v"; return 1; }
    done
    [ -x /usr/bin/rustc ] || { echo "/usr/bin/rustc missing"; return 1; }
    for t in $TARGETS; do
        got=$(cat "$RUSTLIB/$t/$STAMP_NAME" 2>/dev/null || true)
        [ "$got" = "$v" ] || { echo "$RUSTLIB/$t is '${got:-absent}', want $v"; return 1; }
        compgen -G "$RUSTLIB/$t/lib/libcore-*.rlib" >/dev/null || { echo "$RUSTLIB/$t/lib/libcore-*.rlib missing"; return 1; }
    done
    return 0
}

# Compile a const assertion per target with /usr/bin/rustc: proves the std rlibs are there,
# belong to this compiler (else E0514), and that the target has the expected layout rules.
verify() {
    local sysroot t src out tmpd
    sysroot=$(/usr/bin/rustc --print sysroot) || die "/usr/bin/rustc --print sysroot failed"
    tmpd=$(mktemp -d)
    for t in $TARGETS; do
        compgen -G "$sysroot/lib/rustlib/$t/lib/libcore-*.rlib" >/dev/null \
            || die "$sysroot/lib/rustlib/$t/lib/libcore-*.rlib not found"
        case "$t" in
            i686-*) src='const _: () = assert!(core::mem::align_of::<u64>() == 4 && cfg!(target_endian = "little"));' ;;
            armv7-*) src='const _: () = assert!(core::mem::align_of::<u64>() == 8 && core::mem::size_of::<usize>() == 4);' ;;
            s390x-*) src='const _: () = assert!(cfg!(target_endian = "big") && core::mem::align_of::<u64>() == 8);' ;;
            *) src='const _: () = assert!(cfg!(target_endian = "little") && core::mem::size_of::<usize>() == 8);' ;;
        esac
        printf '#![no_std]\n%s\n' "$src" >"$tmpd/smoke.rs"
        if ! out=$(/usr/bin/rustc --target "$t" --crate-type lib --emit=metadata -o "$tmpd/smoke.rmeta" "$tmpd/smoke.rs" 2>&1); then
            rm -rf "$tmpd"
            die "smoke test for $t failed with /usr/bin/rustc:
$out"
        fi
    done
    rm -rf "$tmpd"
    say "verified: $sysroot/lib/rustlib/{$(echo "$TARGETS" | tr ' ' ',')}/lib/libcore-*.rlib present and usable"
}

report() {
    say "/usr/bin/rustc: $(/usr/bin/rustc --version) (sysroot $(/usr/bin/rustc --print sysroot))"
    say "debian packages: rustc-web=$(pkg_version rustc-web) libstd-rust-web-dev=$(pkg_version libstd-rust-web-dev)"
    for t in $TARGETS; do say "target $t: std $(cat "$RUSTLIB/$t/$STAMP_NAME")"; done
    local r c
    r=$(command -v rustc || true); c=$(command -v cargo || true)
    say "PATH rustc: ${r:-none} ($( [ -n "$r" ] && rustc --version 2>/dev/null))"
    say "PATH cargo: ${c:-none} ($( [ -n "$c" ] && cargo --version 2>/dev/null))"
    if [ "$r" = /usr/bin/rustc ]; then
        warn "the rustc on PATH is Debian's /usr/bin/rustc: put ~/.cargo/bin first in PATH"
    fi
}

# ---- fast path ----------------------------------------------------------------------------
if why=$(installed_set_ok "$PIN_VERSION"); then
    say "already installed: rustc-web $PIN_VERSION with std for: $TARGETS"
    verify
    report
    say "nothing to do ($(elapsed "$T0"))"
    exit 0
fi
say "install needed: $why"

[ "$(id -u)" = 0 ] || die "must run as root to install packages (apt-get, /usr/lib/rustlib)"
. /etc/os-release 2>/dev/null || true
[ "${VERSION_CODENAME:-}" = bookworm ] || warn "this is ${PRETTY_NAME:-an unknown system}, not Debian 12 (bookworm): the pinned versions are bookworm's"

# ---- private apt view with the foreign architectures ---------------------------------------
ARCHS=""
for t in $TARGETS; do ARCHS="$ARCHS $(deb_arch_of "$t")"; done
mkdir -p "$APT_STATE/lists/partial" "$APT_STATE/cache/archives/partial"
APT_OPTS=(
    -o "Dir::State::Lists=$APT_STATE/lists"
    -o "Dir::Cache=$APT_STATE/cache"
    -o "APT::Architecture=$NATIVE_ARCH"
    -o "APT::Architectures::=$NATIVE_ARCH"
    -o Acquire::Languages=none
    -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
    -o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false
    -o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false
    -o Acquire::IndexTargets::deb::CNF::DefaultEnabled=false
    -o DPkg::Lock::Timeout=300
)
for a in $ARCHS; do APT_OPTS+=(-o "APT::Architectures::=$a"); done

t1=$(date +%s.%N)
say "apt-get update (private lists in $APT_STATE, architectures: $NATIVE_ARCH$ARCHS)"
rc=0
out=$(apt-get "${APT_OPTS[@]}" update 2>&1) || rc=$?
if [ "$rc" -ne 0 ] || grep -qE '^(E|Err):' <<<"$out"; then
    # e.g. a mirror caught mid-sync: apt then drops that whole suite (here: the security one)
    grep -E '^(E|W|Err):' <<<"$out" | sed 's/^/cross-setup:   apt: /' >&2 || true
    warn "apt-get update reported errors (above); continuing if the needed packages are still resolvable"
fi
say "apt-get update done ($(elapsed "$t1"))"

# `apt-cache show pkg=WRONGVERSION` prints nothing but exits 0: look for the stanza.
have() { [ -n "$(apt-cache "${APT_OPTS[@]}" show "$1" 2>/dev/null | grep '^Package:' || true)" ]; }

# Is the complete set for version $1 downloadable? Prints the first missing package.
set_available() {
    local v="$1" mm a
    mm=$(mm_of "$v")
    for p in "rustc-web:$NATIVE_ARCH=$v" "libstd-rust-web-dev:$NATIVE_ARCH=$v" "libstd-rust-web-$mm:$NATIVE_ARCH=$v"; do
        have "$p" || { echo "$p"; return 1; }
    done
    for a in $ARCHS; do
        have "libstd-rust-web-dev:$a=$v" || { echo "libstd-rust-web-dev:$a=$v"; return 1; }
    done
}

if missing=$(set_available "$PIN_VERSION"); then
    VERSION="$PIN_VERSION"
else
    warn "pinned package $missing is not in the archive any more"
    [ "${CROSS_STRICT_PIN:-0}" = 1 ] && die "CROSS_STRICT_PIN=1: not falling back. Update PIN_VERSION in tests/cross/setup.sh (see: apt-cache madison rustc-web)"
    VERSION=""
    # Newest first; never below the pinned major.minor (the workspace's rust-version).
    for v in $(apt-cache "${APT_OPTS[@]}" madison rustc-web | awk -F'|' '{ gsub(/ /, "", $2); print $2 }' | sort -u -r -V); do
        dpkg --compare-versions "$v" ge "$(mm_of "$PIN_VERSION")" || continue
        if set_available "$v" >/dev/null; then VERSION="$v"; break; fi
    done
    [ -n "$VERSION" ] || die "no rustc-web >= $(mm_of "$PIN_VERSION") has a complete matching std set for:$ARCHS (see apt-cache madison rustc-web libstd-rust-web-dev)"
    cat >&2 <<EOF
cross-setup: ######################################################################
cross-setup: WARNING: PINNED VERSION $PIN_VERSION IS GONE FROM THE ARCHIVE.
cross-setup: WARNING: FALLING BACK TO rustc-web $VERSION (newest complete set).
cross-setup: WARNING: update PIN_VERSION in tests/cross/setup.sh; check the zerocopy pin
cross-setup: WARNING: in tests/cross/run.sh still builds with it.
cross-setup: ######################################################################
EOF
fi
MM=$(mm_of "$VERSION")

# ---- host compiler --------------------------------------------------------------------------
if [ "$(pkg_version rustc-web)" = "$VERSION" ] && [ "$(pkg_version libstd-rust-web-dev)" = "$VERSION" ] \
   && [ "$(pkg_version "libstd-rust-web-$MM")" = "$VERSION" ]; then
    say "host packages already at $VERSION"
else
    t1=$(date +%s.%N)
    say "apt-get install rustc-web=$VERSION libstd-rust-web-dev=$VERSION libstd-rust-web-$MM=$VERSION"
    if ! out=$(DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" install -y -q --no-install-recommends \
            --allow-downgrades "rustc-web=$VERSION" "libstd-rust-web-dev=$VERSION" "libstd-rust-web-$MM=$VERSION" 2>&1); then
        printf '%s\n' "$out" >&2
        die "apt-get install of rustc-web $VERSION failed"
    fi
    grep -E '^(Setting up|Unpacking) ' <<<"$out" | sed 's/^/cross-setup:   /' || true
    apt-get "${APT_OPTS[@]}" clean || true
    say "host packages installed ($(elapsed "$t1"))"
fi

# ---- foreign std rlibs ----------------------------------------------------------------------
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chown _apt "$work" 2>/dev/null || true   # lets apt download sandboxed, as user _apt
todo=""
for t in $TARGETS; do
    if [ "$(cat "$RUSTLIB/$t/$STAMP_NAME" 2>/dev/null || true)" = "$VERSION" ] \
       && compgen -G "$RUSTLIB/$t/lib/libcore-*.rlib" >/dev/null; then
        say "std for $t already at $VERSION"
    else
        todo="$todo $t"
    fi
done
if [ -n "$todo" ]; then
    pkgs=()
    for t in $todo; do pkgs+=("libstd-rust-web-dev:$(deb_arch_of "$t")=$VERSION"); done
    t1=$(date +%s.%N)
    say "apt-get download ${pkgs[*]}"
    (cd "$work" && apt-get "${APT_OPTS[@]}" download -q "${pkgs[@]}" >/dev/null) \
        || die "apt-get download ${pkgs[*]} failed"
    say "downloaded $(du -shc "$work"/*.deb | awk 'END { print $1 }') ($(elapsed "$t1"))"
    for t in $todo; do
        a=$(deb_arch_of "$t")
        deb=$(compgen -G "$work/libstd-rust-web-dev_*_$a.deb" | head -n1) || die "no .deb for $a downloaded"
        dpkg-deb -x "$deb" "$work/x-$a" || die "dpkg-deb -x $deb failed"
        src="$work/x-$a/usr/lib/rustlib/$t"
        compgen -G "$src/lib/libcore-*.rlib" >/dev/null || die "$deb does not contain usr/lib/rustlib/$t/lib/libcore-*.rlib"
        if [ -e "$RUSTLIB/$t" ]; then
            if owner=$(dpkg -S "$RUSTLIB/$t" 2>/dev/null); then
                die "$RUSTLIB/$t belongs to installed package(s) (${owner%%:*}); remove them first (apt-get remove ${owner%%:*})"
            fi
            rm -rf "${RUSTLIB:?}/${t:?}"
        fi
        mkdir -p "$RUSTLIB"
        cp -a "$src" "$RUSTLIB/$t.tmp.$$"
        echo "$VERSION" >"$RUSTLIB/$t.tmp.$$/$STAMP_NAME"
        mv "$RUSTLIB/$t.tmp.$$" "$RUSTLIB/$t"
        rm -rf "$work/x-$a"
        say "unpacked std for $t ($(ls "$RUSTLIB/$t/lib" | wc -l) files) into $RUSTLIB/$t"
    done
fi

verify
report
[ "$VERSION" = "$PIN_VERSION" ] || warn "USING FALLBACK rustc-web $VERSION INSTEAD OF PINNED $PIN_VERSION"
say "done ($(elapsed "$T0"))"
