#!/bin/sh
# configure (once) and build into ./build; extra arguments go to meson setup
set -eu
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
    meson setup build "$@"
elif [ $# -gt 0 ]; then
    meson configure build "$@"
fi
ninja -C build
