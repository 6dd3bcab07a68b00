#!/bin/sh
# lint: every C source and header is formatted as .clang-format says
set -eu
src=${1:?source root}
cf=$(command -v clang-format || command -v clang-format-14 || true)
if [ -z "$cf" ]; then
    echo "clang-format is not installed" >&2
    exit 77
fi
cd "$src"
files=$(find . -path ./build -prune -o -path './build-*' -prune -o -path ./.git -prune -o -path ./tests/lint/fixture -prune -o \
    \( -name '*.c' -o -name '*.h' \) -print | sort)
[ -n "$files" ] || { echo "no sources found under $src" >&2; exit 1; }
# shellcheck disable=SC2086
if ! "$cf" --dry-run --Werror $files; then
    echo "formatting differs: run clang-format -i on the files above" >&2
    exit 1
fi
echo "$(echo "$files" | wc -l) files formatted"
