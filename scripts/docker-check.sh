#!/usr/bin/env bash
# Builds the Dockerfile and runs the image without a Docker engine or a container registry:
# buildah builds it (chroot isolation, vfs storage, no daemon), podman runs it. node:20-bookworm
# and node:20-bookworm-slim cannot be pulled from such a machine, so local stand-ins are made
# once and cached: Debian 12 from debootstrap plus this machine's Node.js 20, laid out under
# /usr/local as the official images do, and for the build stage the C toolchain and python3.
#
#   scripts/docker-check.sh [--worktree] [--no-guest]
#
#   --worktree  build the working tree as it is (honouring .dockerignore); the default builds the
#               committed tree (git archive HEAD) with the working tree's Dockerfile and .dockerignore
#   --no-guest  skip the run with host networking inside a User-Mode Linux guest (real IPVS)
#
# Needs root and Debian 12 (apt, debootstrap). IPVSD_DOCKER_CACHE (default /var/cache/ipvsd-docker)
# holds the stand-in bases and the image store; delete it to start again from nothing.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${IPVSD_DOCKER_CACHE:-/var/cache/ipvsd-docker}
context_mode="head"
guest=yes
for arg in "$@"; do
  case $arg in
    --worktree) context_mode=worktree ;;
    --no-guest) guest=no ;;
    *) echo "usage: $0 [--worktree] [--no-guest]" >&2; exit 2 ;;
  esac
done

# What node:20 would hold: the npm release bundled with Node.js 20.
npm_version=10.8.2
debian_image=localhost/ipvsd-standin/debian:bookworm
slim_image=docker.io/library/node:20-bookworm-slim
build_image=docker.io/library/node:20-bookworm
image=localhost/ipvsd:check
packages=(buildah podman runc debootstrap)

if [[ $EUID -ne 0 ]]; then
  echo "docker-check: needs root (debootstrap, buildah and podman run as root here)" >&2
  exit 1
fi

# The buildah working container the guest runs (see check_run_in_guest).
guest_container=
# Called by the EXIT trap too: no working container outlives the script.
remove_guest_container() {
  if [[ -n $guest_container ]]; then
    buildah umount "$guest_container" >/dev/null || true
    buildah rm "$guest_container" >/dev/null || true
  fi
}

total_start=$(date +%s)
# Under the cache, not /tmp: the UML guest has its own /tmp but sees the host's /var/cache.
mkdir -p "$cache"
work=$(mktemp -d "$cache/run.XXXXXX")
step_name=
step_start=
on_exit() {
  local status=$?
  remove_guest_container
  rm -rf --one-file-system "$work"
  if ((status != 0)) && [[ -n $step_name ]]; then
    echo "docker-check: FAILED: $step_name, after $(($(date +%s) - step_start)) s (exit status $status)" >&2
  fi
  echo "docker-check: total $(($(date +%s) - total_start)) s, exit status $status"
}
trap on_exit EXIT

# Runs one step, printing its name and how long it took. Not under `||`, so errexit holds inside
# it: the first failing command ends the script, and on_exit names the step.
step() {
  step_name=$1
  shift
  step_start=$(date +%s)
  echo "docker-check: == $step_name =="
  "$@"
  echo "docker-check: $step_name took $(($(date +%s) - step_start)) s"
  step_name=
}

fail() {
  echo "docker-check: $*" >&2
  exit 1
}

install_packages() {
  local missing=() pkg
  for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then
    echo "docker-check: ${packages[*]} present"
    return 0
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# One image store of our own (vfs: no overlay mounts needed), and the engine settings that work
# where root lacks CAP_SYS_RESOURCE and cgroups are v1/v2 hybrid: runc (crun refuses hybrid
# cgroups), the cgroupfs manager, and ulimits no higher than podman itself is left with (it
# caps its own nproc at 32768), since the default 1048576 cannot be raised to there.
configure_engine() {
  local nofile nproc
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  [[ $nofile == unlimited ]] && nofile=1048576
  [[ $nproc == unlimited || $nproc -gt 32768 ]] && nproc=32768
  cat >"$cache/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$cache/storage"
runroot = "/run/ipvsd-docker-check"
EOF
  cat >"$cache/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
}

debian_standin() {
  if podman image exists "$debian_image"; then
    echo "docker-check: $debian_image present"
    return 0
  fi
  local tarball=$cache/debian-bookworm-minbase.tar rootfs=$work/rootfs
  if [[ ! -s $tarball ]]; then
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
      { tail -20 "$work/debootstrap.log"; fail "debootstrap failed"; }
    # The suites the official debian:bookworm image lists.
    rm -f "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    # What makes debian:bookworm-slim slim: no documentation, manual pages or translations, now
    # or in packages installed later. The build stand-in shares this base; it only compiles.
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
    find "$rootfs/usr/share/doc" -mindepth 1 -not -type d -not -name copyright -delete
    find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$rootfs"/usr/share/{groff,info,linda,locale,man}/* "$rootfs"/usr/share/lintian/overrides/*
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" --numeric-owner -cf "$tarball.partial" .
    mv "$tarball.partial" "$tarball"
  fi
  podman import --change 'CMD ["bash"]' "$tarball" "$debian_image"
}

# This machine's Node.js 20 arranged as the official tarball unpacks into /usr/local: the node
# binary, its headers (node-gyp builds the addon against them) and the bundled npm and corepack.
node_tree() {
  local major tree=$cache/node-tree tgz=$cache/npm-$npm_version.tgz
  major=$(node -p 'process.versions.node.split(".")[0]')
  ((major == 20)) || fail "node:20 stands in for Node.js 20; this machine has $(node --version)"
  [[ -d /usr/include/node ]] || fail "no Node.js headers in /usr/include/node"
  if [[ ! -s $tgz ]]; then
    (cd "$work" && npm pack --silent "npm@$npm_version" >/dev/null)
    mv "$work/npm-$npm_version.tgz" "$tgz"
  fi
  rm -rf "$tree"
  mkdir -p "$tree/usr/local/bin" "$tree/usr/local/include" "$tree/usr/local/lib/node_modules/npm"
  cp /usr/bin/node "$tree/usr/local/bin/node"
  cp -r /usr/include/node "$tree/usr/local/include/node"
  tar -xzf "$tgz" -C "$tree/usr/local/lib/node_modules/npm" --strip-components=1
  if [[ -d /usr/lib/node_modules/corepack ]]; then
    cp -r /usr/lib/node_modules/corepack "$tree/usr/local/lib/node_modules/corepack"
  fi
  node --version >"$tree/node-version"
}

# The links and the node user that the official images create.
node_setup='cd /usr/local/bin && ln -sf ../lib/node_modules/npm/bin/npm-cli.js npm && ln -sf ../lib/node_modules/npm/bin/npx-cli.js npx && if [ -d ../lib/node_modules/corepack ]; then ln -sf ../lib/node_modules/corepack/dist/corepack.js corepack; fi && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'

node_standins() {
  local version
  version=$(node --version)
  if podman image exists "$slim_image" && podman image exists "$build_image" &&
    [[ $(podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$slim_image" | grep '^NODE_VERSION=') == "NODE_VERSION=${version#v}" ]]; then
    echo "docker-check: $slim_image and $build_image present (Node.js $version)"
    return 0
  fi
  node_tree
  cat >"$cache/node-tree/Containerfile.slim" <<EOF
FROM $debian_image
COPY usr/local /usr/local/
RUN $node_setup
ENV NODE_VERSION=${version#v}
CMD ["node"]
EOF
  # node:20-bookworm is buildpack-deps:bookworm (compilers, python3, git, curl) plus node.
  cat >"$cache/node-tree/Containerfile.build" <<EOF
FROM $debian_image
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends build-essential python3 git curl ca-certificates && rm -rf /var/lib/apt/lists/*
COPY usr/local /usr/local/
RUN $node_setup
ENV NODE_VERSION=${version#v}
CMD ["node"]
EOF
  buildah bud --isolation chroot --pull=never --layers=false -f "$cache/node-tree/Containerfile.slim" \
    -t "$slim_image" "$cache/node-tree"
  buildah bud --isolation chroot --pull=never --layers=false -f "$cache/node-tree/Containerfile.build" \
    -t "$build_image" "$cache/node-tree"
}

context=
make_context() {
  if [[ $context_mode == worktree ]]; then
    context=$repo
    echo "docker-check: context is the working tree $repo"
    return 0
  fi
  context=$work/context
  mkdir -p "$context"
  git -C "$repo" archive HEAD | tar -x -C "$context"
  cp "$repo/Dockerfile" "$context/Dockerfile"
  if [[ -f $repo/.dockerignore ]]; then cp "$repo/.dockerignore" "$context/.dockerignore"; fi
  echo "docker-check: context is HEAD $(git -C "$repo" rev-parse --short HEAD) with the working tree's Dockerfile"
}

# The machine's CA bundle goes into the build for npm: where a proxy intercepts TLS (as in the
# sandbox this was written in) the registry's certificate is signed by a CA only this bundle has.
build_image() {
  local ca=/etc/ssl/certs/ca-certificates.crt ca_options=()
  if [[ -s $ca ]]; then
    ca_options=(-v "$ca:/run/host-ca.crt:ro" --build-arg NODE_EXTRA_CA_CERTS=/run/host-ca.crt)
  fi
  buildah bud --isolation chroot --pull=never --layers=false "${ca_options[@]}" \
    -f "$context/Dockerfile" -t "$image" "$context"
  # The image this tag named before: vfs stores every layer whole, so old ones add up.
  podman image prune -f >/dev/null
  podman image inspect --format 'docker-check: image {{.Id}} {{.Size}} bytes' "$image"
}

# Runs the image in a container that is removed afterwards; extra podman options before --.
run_image() {
  local options=()
  while [[ $1 != -- ]]; do options+=("$1"); shift; done
  shift
  podman run --rm "${options[@]}" "$image" "$@"
}

check_help() {
  local out
  out=$(run_image -- --help)
  grep -q '^usage: ipvsd' <<<"$out" || fail "--help printed no usage: $out"
  out=$(run_image -- --version)
  grep -q '^ipvsd [0-9]' <<<"$out" || fail "--version printed no version: $out"
}

check_config() {
  local out conf=$context/examples/lvs-dr
  run_image -v "$conf:/etc/keepalived:ro" -- -t -f /etc/keepalived/keepalived.conf || fail "-t rejected examples/lvs-dr"
  out=$(run_image -v "$conf:/etc/keepalived:ro" -- --plan -f /etc/keepalived/keepalived.conf)
  echo "$out"
  grep -q -- '-A -t 192.0.2.10:80 -s wrr -p 50' <<<"$out" || fail "--plan lacks the lvs-dr virtual server"
}

# The documented run command. Only on a kernel without IPVS (this one): the daemon must stop at
# once with the sentence that says so. Where IPVS exists it would program the host's table.
check_run_without_ipvs() {
  if [[ -e /proc/net/ip_vs ]] || modinfo ip_vs >/dev/null 2>&1; then
    echo "docker-check: this kernel has IPVS; the host-network run happens only in the guest"
    return 0
  fi
  local out status=0
  out=$(timeout 60 podman run --rm --network host --cap-add NET_ADMIN --cap-add NET_RAW \
    -v "$context/examples/lvs-dr:/etc/keepalived:ro" "$image" 2>&1) || status=$?
  echo "$out" | tail -5
  ((status != 0 && status != 124)) || fail "expected the daemon to stop with an error, exit status $status"
  grep -q 'IPVS is not available' <<<"$out" || fail "no 'IPVS is not available' sentence"
}

# The documented run command inside a User-Mode Linux guest, whose kernel has IPVS: podman and
# runc start the image's entrypoint with the guest's network and the two capabilities, the daemon
# programs the guest's table, ipvsadm reads it back, and stopping the container empties it.
# Copying the image into a container is slow there (every file operation crosses into the host),
# so the host unpacks it once (buildah mount) and the guest's podman runs that tree (--rootfs)
# with a store of its own on the guest's tmpfs. The guest has no cgroups until it mounts cgroup2.
check_run_in_guest() {
  local rootfs entrypoint script=$work/guest-run.sh
  guest_container=$(buildah from --pull=never "$image")
  rootfs=$(buildah mount "$guest_container")
  entrypoint=$(podman image inspect --format '{{range .Config.Entrypoint}}{{printf "%q " .}}{{end}}' "$image")
  cat >"$script" <<EOF
#!/bin/bash
set -u
mount -t cgroup2 none /sys/fs/cgroup
mkdir -p /tmp/containers
sed -e "s/nofile=[0-9]*:[0-9]*/nofile=\$(ulimit -Hn):\$(ulimit -Hn)/" \\
  -e "s/nproc=[0-9]*:[0-9]*/nproc=\$(ulimit -Hu):\$(ulimit -Hu)/" $cache/containers.conf >/tmp/containers/containers.conf
printf '[storage]\ndriver = "vfs"\ngraphroot = "/tmp/containers/storage"\nrunroot = "/run/containers"\n' \\
  >/tmp/containers/storage.conf
export CONTAINERS_CONF=/tmp/containers/containers.conf CONTAINERS_STORAGE_CONF=/tmp/containers/storage.conf
podman run -d --name ipvsd-check --network host --cap-add NET_ADMIN --cap-add NET_RAW \\
  -v $context/examples/lvs-dr:/etc/keepalived:ro --rootfs $rootfs \\
  $entrypoint -f /etc/keepalived/keepalived.conf --metrics-listen none >/dev/null || exit 1
found=no
for i in \$(seq 30); do
  if ipvsadm -Ln | grep -q '192.0.2.10:80 wrr persistent 50'; then found=yes; break; fi
  sleep 1
done
ipvsadm -Ln
podman logs ipvsd-check 2>&1 | head -3
podman stop -t 10 ipvsd-check >/dev/null
podman rm ipvsd-check >/dev/null
echo "guest: after podman stop:"; ipvsadm -Ln
[ \$found = yes ] || { echo "guest: the virtual server never appeared"; exit 1; }
if ipvsadm -Ln | grep -q 192.0.2.10; then echo "guest: the virtual server outlived the daemon"; exit 1; fi
echo "guest: ok"
EOF
  chmod 755 "$script"
  node "$repo/test/lab/guest.js" --timeout 300 -- "$script"
}

export CONTAINERS_CONF=$cache/containers.conf CONTAINERS_STORAGE_CONF=$cache/storage.conf
step "packages (${packages[*]})" install_packages
configure_engine
step "stand-in $debian_image (debootstrap minbase)" debian_standin
step "stand-ins $build_image and $slim_image" node_standins
step "build context ($context_mode)" make_context
step "buildah bud $image" build_image
step "ipvsd --help and --version" check_help
step "ipvsd -t and --plan on examples/lvs-dr" check_config
step "documented run command, host network, kernel without IPVS" check_run_without_ipvs
if [[ $guest == yes ]]; then
  step "documented run command in a UML guest with IPVS" check_run_in_guest
fi
echo "docker-check: ok"
