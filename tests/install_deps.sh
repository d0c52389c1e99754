#!/usr/bin/env bash
# Installs the Debian packages the tests need (tests/debian_packages.txt), when missing.
# Runs before every `deno task test` and in .ci/run; does nothing when all are installed.
set -euo pipefail
cd "$(dirname "$0")"
# One package a line; `#` starts a comment.
mapfile -t pkgs < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' debian_packages.txt | grep -v '^$')
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "tests need these Debian packages: ${missing[*]} (run as root, or apt-get install them)" >&2
  exit 1
fi
echo "installing test dependencies: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# Postfix asks how to configure itself; the tests run private instances, so none is wanted.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
