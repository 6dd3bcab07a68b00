#!/bin/sh
# configure (once) and build ./build-san: clang, AddressSanitizer (leaks
# included) and UndefinedBehaviorSanitizer with every report fatal, and the
# libFuzzer targets of tests/fuzz (-Dfuzzing=true).  scripts/fuzz.sh and
# the sanitizer run of scripts/test.sh use it, with scripts/san-env.sh
set -eu
cd "$(dirname "$0")/.."
if [ ! -f build-san/build.ninja ]; then
    CC=clang meson setup build-san -Db_sanitize=address,undefined -Db_lundef=false \
        -Dfuzzing=true -Dc_args=-fno-sanitize-recover=all
fi
ninja -C build-san
