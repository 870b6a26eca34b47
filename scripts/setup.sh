#!/usr/bin/env bash
# Set up zsar-studio on a fresh machine: the system libraries Qt and its tests need (Debian/Ubuntu,
# when run as root), a virtual environment in .venv with the project and its test extras, and the
# MediaPipe pose model in the user's cache. Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Qt's xcb platform, OpenGL under Xvfb (docs/live_input.md#qt-and-opengl-without-a-screen): the full list for a bare Debian 12.
APT_PACKAGES="xvfb xauth libgl1 libegl1 libglx-mesa0 libgl1-mesa-dri libxkbcommon0 libxkbcommon-x11-0
libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-randr0
libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 libxcb-shm0 libxcb-sync1 libxcb-glx0 libx11-xcb1
libfontconfig1 libdbus-1-3 fonts-dejavu-core"

if command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then
  missing=""
  for pkg in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
  done
  if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "setup: installing system packages:$missing"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      # shellcheck disable=SC2086
      apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
      echo "setup: warning: missing system packages (install them as root for the GUI and its tests):$missing" >&2
    fi
  fi
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q -e ".[test]"

# The pose model is not in any current mediapipe wheel: build it once into the user's cache.
if ! .venv/bin/zsar pose-model >/dev/null; then
  echo "setup: warning: the MediaPipe pose model could not be provisioned (live camera input and" \
       "its tests need it); run '.venv/bin/zsar pose-model' to see why" >&2
fi
echo "setup: done (.venv)"
