#!/usr/bin/env python3
"""Checks that the README's code blocks marked as parts of an example are that example.

A block is marked by the line before its fence, `<!-- examples/FILE [part] -->`; the part
is what FILE holds between its two `// [part]` lines. Prints one line per block and ends
with "readme: P passed, F failed" (tests/run counts it)."""
import pathlib
import re
import sys

top = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)
readme = (top / "README.md").read_text()
marker = re.compile(r"^<!-- (\S+) \[([\w-]+)\] -->\n```cpp\n(.*?)^```$", re.M | re.S)
passed = failed = 0


def part(path, name):
    text = (top / path).read_text()
    pieces = text.split(f"// [{name}]\n")
    if len(pieces) != 3:
        return None
    return pieces[1]


for m in marker.finditer(readme):
    path, name, shown = m.group(1), m.group(2), m.group(3)
    source = part(path, name)
    if source is None:
        print(f"FAIL {path} [{name}]: the part is not marked twice in {path}")
        failed += 1
    elif source != shown:
        print(f"FAIL {path} [{name}]: the README shows something else than {path} holds")
        failed += 1
    else:
        print(f"ok   {path} [{name}]")
        passed += 1
if passed + failed == 0:
    print("FAIL no marked block in README.md")
    failed = 1
print(f"readme: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
