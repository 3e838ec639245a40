#!/usr/bin/env python3
"""The parameter counts tests/nn/test_networks.cpp asserts are the reference
definitions' (reference_param_counts.py), computed here again: a count copied
into the C++ table by hand and never checked against its source fails here.

Usage: check_param_counts.py <tests/nn/test_networks.cpp>
"""
import re
import sys

from reference_param_counts import rows

text = open(sys.argv[1]).read()
table = {}
for net, c, size, classes, params in re.findall(
        r'\{"(\w+)", \{(\d+), (\d+), (\d+)\}, (\d+), \d+\}', text):
    table[(net, int(c), int(size), int(classes))] = int(params)
reference = rows()
bad = 0
for key, count in reference.items():
    if key not in table:
        print(f"FAIL {key}: no row in {sys.argv[1]}")
        bad += 1
    elif table[key] != count:
        print(f"FAIL {key}: test_networks.cpp says {table[key]}, the reference definition has {count}")
        bad += 1
    else:
        print(f"ok   {key}: {count}")
for key in table.keys() - reference.keys():
    print(f"FAIL {key}: a row with no reference definition")
    bad += 1
print(f"{len(reference) - bad} of {len(reference)} counts agree")
sys.exit(1 if bad else 0)
