#!/usr/bin/env bash
# Install rnnviz on a fresh Debian or Ubuntu machine, as root or as a user with sudo.
#   bash scripts/install.sh        the app: a virtual environment in .venv with requirements.txt
#   bash scripts/install.sh test   also the test tools and a Chromium for the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-app}"
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1
sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { sudo_ apt-get update -q; apt_updated=1; }
  sudo_ apt-get install -y -q "$@"
}

# python3 -m venv needs Debian's python3-venv on a bare system
if [ ! -x .venv/bin/python ] && ! python3 -m venv --help >/dev/null 2>&1; then apt_install python3-venv; fi
[ -x .venv/bin/python ] || python3 -m venv .venv || { apt_install python3-venv; python3 -m venv .venv; }
. .venv/bin/activate

if [ "$what" = test ]; then
  pip install -q -r requirements-dev.txt -r requirements-ray.txt  # Ray is optional for users; its tests run
  # Debian's chromium drives the browser tests (tests/browser.py); Ubuntu's chromium package is a snap stub,
  # so there playwright's own build is used instead (it needs internet once, at install time)
  if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    if grep -qi '^ID=debian' /etc/os-release 2>/dev/null; then
      apt_install chromium fonts-dejavu-core
    else
      sudo_ "$(command -v python)" -m playwright install-deps chromium && python -m playwright install chromium
    fi
  fi
else
  pip install -q -r requirements.txt
fi
pip install -q --no-deps -e .  # benches and scripts import the installed package
echo "rnnviz installed in .venv ($what)"
