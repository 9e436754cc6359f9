#!/usr/bin/env bash
# Installs what sysctr, its demo and its tests need on a Debian 12 machine (as root), then the npm
# dependencies, and builds. Safe to run again: it installs only what is missing and says so.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(runc systemd-container busybox-static docker-registry skopeo umoci zstd ostree hyperfine
      apache2-utils util-linux iproute2 curl time attr libcap2-bin xfsprogs
      buildah podman fuse-overlayfs libarchive-tools python3 strace e2fsprogs
      mmdebstrap snmp gpg gpgv uidmap passwd
      ansible  # ansible: community.docker.nsenter for test/e2e/e2e-fleet.test.ts
      gcc libc6-dev)  # gcc, libc6-dev: the static sd_notify helper of test/e2e/e2e-notify.test.ts
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "setup: Node.js 20 or newer is needed (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
echo "setup: npm ci"
npm ci --no-audit --no-fund --loglevel=error
if [ "$(id -u)" = 0 ] && [ "$(readlink -f /usr/local/bin/sysctr 2>/dev/null)" != "$PWD/dist/cli/main.js" ]; then
  echo "setup: linking /usr/local/bin/sysctr -> $PWD/dist/cli/main.js"
  ln -sfn "$PWD/dist/cli/main.js" /usr/local/bin/sysctr
fi
echo "setup: done"
