#!/usr/bin/env python3
"""lint: no machine-type name in the sources outside comments.

Facts about machines come from QMP, trials or spec rules keyed by role, never
from a table of machine names (design.md).  Comments may name machines to
explain why; code and string literals may not."""
import os
import re
import sys

SOURCE_DIRS = ["qmp", "topology", "policy", "libvirt", "varlink", "daemon", "cli"]
# libvirt's vocabulary: what libvirt does, which libvirt itself keys on machine
# names (qemuDomainMachineIsQ35 & co.) and on model names that are machine
# names too (<panic model='pseries'>); not facts about QEMU's machines
LIBVIRT_VOCABULARY = {os.path.join("libvirt", "qt-libvirt-vocab.c")}
# machine families QEMU ships (the names management stacks hard-code)
NAMES = re.compile(
    r"\b(q35|i440fx|pseries|powernv|isapc|microvm|sbsa-ref|mac99|g3beige|"
    r"ppce500|pc-(?:q35|i440fx)-[0-9.]+|virt(?:-[0-9.]+)?|pc)\b")
WORDY = re.compile(r"\b(virt|pc)\b")


def strip_comments(text):
    """blank out comments, keeping line numbers and string literals"""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join("\n" if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def literals(line):
    return re.findall(r'"((?:[^"\\]|\\.)*)"', line)


def main():
    root = sys.argv[1]
    bad = 0
    checked = 0
    for d in SOURCE_DIRS:
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            for f in sorted(files):
                if not f.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, f)
                if os.path.relpath(path, root) in LIBVIRT_VOCABULARY:
                    continue
                checked += 1
                with open(path, encoding="utf-8") as fh:
                    code = strip_comments(fh.read())
                for no, line in enumerate(code.splitlines(), 1):
                    for lit in literals(line):
                        # "pc" and "virt" are ordinary words in prose: only
                        # a literal that is exactly a name counts for them
                        hit = NAMES.search(lit)
                        if hit and (not WORDY.fullmatch(hit.group(0)) or
                                    WORDY.fullmatch(lit.strip())):
                            print(f"{os.path.relpath(path, root)}:{no}: machine-type name "
                                  f"'{hit.group(0)}' in \"{lit}\"")
                            bad += 1
    if checked == 0:
        print("no sources found", file=sys.stderr)
        return 1
    print(f"{checked} files checked, {bad} machine-type names outside comments")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
