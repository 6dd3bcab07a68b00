#!/usr/bin/env python3
"""lint: every declaration (type, method, error) and every field of the
qtopo varlink interfaces carries a '#' comment on the line(s) above it, so
that GetInterfaceDescription documents the whole interface.  A field must
stand on a line of its own; an empty struct '()' has no fields."""
import re
import sys

DECL = re.compile(r'^(type|method|error)\s+([A-Z][A-Za-z0-9]*)')
FIELD = re.compile(r'^\s*([A-Za-z](_?[A-Za-z0-9])*)\s*:')


def check(path):
    problems = []
    commented = False
    depth = 0
    for n, raw in enumerate(open(path, encoding='utf-8'), 1):
        line = raw.rstrip('\n')
        text = line.strip()
        if text.startswith('#'):
            commented = True
            continue
        if not text:
            commented = False
            continue
        m = DECL.match(text)
        if m and depth == 0:
            if not commented:
                problems.append(f'{path}:{n}: {m.group(1)} {m.group(2)} has no comment')
            # fields written on the declaration's own line
            inner = text[text.find('(') + 1:] if '(' in text else ''
            for part in re.split(r'->', inner):
                part = part.strip().rstrip(')').strip()
                if part and part not in ('(', '') and FIELD.match(part.lstrip('(')):
                    problems.append(f'{path}:{n}: fields of {m.group(2)} must stand on '
                                    'lines of their own, each with a comment')
        elif re.search(r'\(\s*[A-Za-z](_?[A-Za-z0-9])*\s*:', text):
            problems.append(f'{path}:{n}: a field after "(": each must stand on a line of its '
                            'own, with a comment')
        elif depth > 0 and FIELD.match(text) and not commented:
            problems.append(f'{path}:{n}: field {FIELD.match(text).group(1)} has no comment')
        depth += text.count('(') - text.count(')')
        commented = False
    return problems


problems = [p for f in sys.argv[1:] for p in check(f)]
for p in problems:
    print(p)
if not sys.argv[1:]:
    print('no interface files given')
    sys.exit(1)
sys.exit(1 if problems else 0)
