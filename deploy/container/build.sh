#!/usr/bin/env bash
# Builds cnfwd's container image from deploy/container/Containerfile.
#
#   deploy/container/build.sh [IMAGE]        (default localhost/cnfwd:latest)
#
# The Containerfile starts from two public images, a Rust toolchain image
# (RUST_IMAGE, default rust:1-bookworm) for the build and Debian 12 slim
# (BASE) for the runtime. Where those can be pulled, this script simply
# builds with them. Where no registry is reachable (an air-gapped builder,
# or a CI machine that reaches only package mirrors), it first makes local
# stand-ins and passes them as build arguments:
#   - BASE: a Debian 12 minbase root file system made with debootstrap from
#     the Debian mirror apt already uses, imported as
#     localhost/cnfwd-debian-base:bookworm;
#   - RUST_IMAGE: that base plus the Rust toolchain this machine builds cnfwd
#     with (rustup's, `rustc --print sysroot`), copied in
#     (Containerfile.rust-local), tagged localhost/cnfwd-rust:<version>,
#     trusting the extra certificate authorities this machine trusts
#     (/usr/local/share/ca-certificates), as cargo here may need them.
# Both are reused while they exist; CNFWD_REBUILD_BASE=1 makes them again.
#
# Environment:
#   CNFWD_LOCAL_IMAGES=auto|1|0  auto (default): stand-ins only when the
#                                public images cannot be pulled; 1: always; 0: never
#   BASE, RUST_IMAGE             use these images instead (no stand-ins made)
#   PODMAN_BUILD_ARGS            extra arguments for `podman build`
#
# Needs root, podman (and debootstrap for the stand-ins): on Debian
# `apt-get install podman runc debootstrap`.
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE=${1:-localhost/cnfwd:latest}
LOCAL_BASE=localhost/cnfwd-debian-base:bookworm
PUBLIC_BASE=docker.io/library/debian:bookworm-slim
PUBLIC_RUST=docker.io/library/rust:1-bookworm

say() { echo "build-image: $*"; }

# The Debian mirror apt uses (first "bookworm" source), for debootstrap.
debian_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] || continue
        awk '
            /^URIs:/   { uri = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") { print uri; exit } }
            /^$/       { uri = "" }' "$f"
    done
    one_line_sources | awk '$1 == "deb" && $3 == "bookworm" { print $2 }'
}

# The one-line-style apt sources (sources.list, *.list), if any.
one_line_sources() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -e "$f" ] && cat "$f"
    done
    return 0
}

# apt sources for the stand-in base: the host's Debian entries (bookworm,
# -updates, -security), so the image gets the same package versions.
write_apt_sources() {
    local root=$1 f
    : >"$root/etc/apt/sources.list"
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] || continue
        if grep -q '^Suites:.*bookworm' "$f" && grep -q 'debian' "$f"; then
            cp "$f" "$root/etc/apt/sources.list.d/"
        fi
    done
    one_line_sources | awk '$1 == "deb" && $3 ~ /^bookworm/ && $2 ~ /debian/' >>"$root/etc/apt/sources.list"
}

make_local_base() {
    if podman image exists "$LOCAL_BASE" && [ "${CNFWD_REBUILD_BASE:-0}" != 1 ]; then
        say "reusing $LOCAL_BASE"
        return
    fi
    command -v debootstrap >/dev/null || { say "debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
    local mirror rootfs
    mirror=$(debian_mirror | awk 'NR == 1')
    [ -n "$mirror" ] || { say "no Debian bookworm mirror found in apt's sources" >&2; exit 1; }
    rootfs=$(mktemp -d /var/tmp/cnfwd-rootfs.XXXXXX)
    say "debootstrap --variant=minbase bookworm from $mirror (about a minute)"
    if ! debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1; then
        tail -20 "$rootfs.log" >&2
        rm -rf "$rootfs" "$rootfs.log"
        exit 1
    fi
    write_apt_sources "$rootfs"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | podman import -q - "$LOCAL_BASE" >/dev/null
    rm -rf "$rootfs" "$rootfs.log"
    say "imported $LOCAL_BASE"
}

make_local_rust() {
    command -v rustc >/dev/null || { say "no rustc on this machine to copy into the builder (install rustup)" >&2; exit 1; }
    local version sysroot ctx
    version=$(rustc --version | awk '{print $2}')
    LOCAL_RUST=localhost/cnfwd-rust:$version-bookworm
    if podman image exists "$LOCAL_RUST" && [ "${CNFWD_REBUILD_BASE:-0}" != 1 ]; then
        say "reusing $LOCAL_RUST"
        return
    fi
    sysroot=$(rustc --print sysroot)
    ctx=$(mktemp -d /var/tmp/cnfwd-rust-ctx.XXXXXX)
    say "making $LOCAL_RUST from $LOCAL_BASE and the toolchain in $sysroot"
    mkdir -p "$ctx/toolchain"
    # bin and lib are the toolchain (rustc finds its sysroot next to itself);
    # share/ (documentation) is left out.
    cp -a "$sysroot/bin" "$sysroot/lib" "$ctx/toolchain/"
    [ -d "$sysroot/libexec" ] && cp -a "$sysroot/libexec" "$ctx/toolchain/"
    # Certificate authorities this machine trusts beyond Debian's (e.g. a
    # TLS-inspecting proxy in front of crates.io): the local builder trusts
    # them too. The runtime image never gets them.
    mkdir -p "$ctx/ca-certificates"
    find /usr/local/share/ca-certificates -name '*.crt' -type f \
        -exec cp {} "$ctx/ca-certificates/" \; 2>/dev/null || true
    podman build --isolation=chroot -q --build-arg "BASE=$LOCAL_BASE" \
        -t "$LOCAL_RUST" -f deploy/container/Containerfile.rust-local "$ctx" >/dev/null
    rm -rf "$ctx"
}

can_pull() {
    podman image exists "$1" || timeout 120 podman pull -q "$1" >/dev/null 2>&1
}

build_args=()
if [ -n "${BASE:-}" ] || [ -n "${RUST_IMAGE:-}" ]; then
    build_args+=(--build-arg "BASE=${BASE:-$PUBLIC_BASE}" --build-arg "RUST_IMAGE=${RUST_IMAGE:-$PUBLIC_RUST}")
else
    use_local=${CNFWD_LOCAL_IMAGES:-auto}
    if [ "$use_local" = auto ]; then
        if can_pull "$PUBLIC_BASE" && can_pull "$PUBLIC_RUST"; then
            use_local=0
        else
            say "cannot pull $PUBLIC_BASE / $PUBLIC_RUST: making local stand-ins"
            use_local=1
        fi
    fi
    if [ "$use_local" = 1 ]; then
        make_local_base
        make_local_rust
        build_args+=(--build-arg "BASE=$LOCAL_BASE" --build-arg "RUST_IMAGE=$LOCAL_RUST")
    fi
fi

# The build context: the files git knows (tracked and untracked, without
# ignored ones such as target/), so a build never ships gigabytes of
# build output. Outside a git checkout: the whole tree minus target/.
# Extracted with fresh modification times (tar -m): target/ is a cache
# mount, and cargo decides by mtime whether a workspace crate is stale, so a
# source older than the cached build of an earlier context would otherwise
# be taken as built.
ctx=$(mktemp -d /var/tmp/cnfwd-ctx.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        tar --null -T - -c | tar -C "$ctx" -x -m
else
    tar --exclude=./target -c . | tar -C "$ctx" -x -m
fi

say "podman build -t $IMAGE ${build_args[*]}"
started=$(date +%s)
# shellcheck disable=SC2086 # PODMAN_BUILD_ARGS is a list of words on purpose
podman build --isolation=chroot "${build_args[@]}" ${PODMAN_BUILD_ARGS:-} \
    -t "$IMAGE" -f deploy/container/Containerfile "$ctx"
say "built $IMAGE in $(( $(date +%s) - started )) s"
