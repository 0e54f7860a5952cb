"""Shared helpers for the command-line client suites (test_zkcli.py, test_cli_mt.py).

Both suites compare a *normalised transcript* of a real client against a golden transcript
recorded from the Java 3.8 server. The Java run of each test re-checks that the golden text
is still exactly what Java produces, so "zkrs passes" means "zkrs's transcript == Java's".

Set ZK_GOLDEN_DUMP=<dir> to write every normalised transcript to <dir>/<test>-<impl>.txt
(used to (re)record the golden texts from Java, and to diff the two servers by hand).
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path


class Canon:
    """Rename values (zxids, session ids) to stable tokens by order of first appearance.

    Equal values stay equal (cZxid == mZxid is still visible), unequal ones stay unequal,
    but the absolute numbers (which depend on how many sessions the readiness probe
    opened) drop out.
    """

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.seen = {}

    def __call__(self, value: str) -> str:
        key = value.lower()
        if key not in self.seen:
            self.seen[key] = "<%s%d>" % (self.prefix, len(self.seen) + 1)
        return self.seen[key]


def dump(name: str, impl: str, text: str) -> None:
    out = os.environ.get("ZK_GOLDEN_DUMP")
    if not out:
        return
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    (path / ("%s-%s.txt" % (name, impl))).write_text(text)


def golden_for(impl: str, golden: str, changes_3_9=()) -> str:
    """The golden transcript of impl's generation: Java 3.8.0's text as recorded, or for the
    3.9 generation that text with each (old, new) of `changes_3_9` applied (recorded from
    Java 3.9.3; each `old` must occur exactly once, so a stale change fails loudly)."""
    import zkharness
    if not zkharness.at_least(impl, 3, 9):
        return golden
    for old, new in changes_3_9:
        assert golden.count(old) == 1, "3.9 change does not apply once: %r" % old
        golden = golden.replace(old, new)
    return golden


def assert_transcript(impl: str, name: str, actual: str, golden: str, raw: str = "") -> None:
    """actual == golden (Java's, of impl's generation: see golden_for), with a readable
    unified diff when not."""
    dump(name, impl, actual)
    expected = golden.strip("\n") + "\n"
    if actual == expected:
        return
    exp_lines = expected.splitlines(True)
    hunks = []
    for line in difflib.unified_diff(exp_lines, actual.splitlines(True),
                                     fromfile="java (golden)", tofile=impl, n=2):
        m = re.match(r"@@ -(\d+)", line)
        if m:
            # Name the command whose output the hunk is in ("> cmd" lines start each one).
            start = int(m.group(1))
            cmd = next((l.strip() for l in reversed(exp_lines[:start + 1]) if l.startswith("> ")),
                       "")
            line = line.rstrip("\n") + "   in: %s\n" % cmd
        hunks.append(line)
    diff = "".join(hunks)
    msg = "%s: %s transcript differs from Java's golden transcript:\n%s" % (name, impl, diff)
    if raw:
        msg += "\n--- raw output (%s) ---\n%s" % (impl, raw[-6000:])
    raise AssertionError(msg)


def assert_contains(text: str, *needles: str) -> None:
    missing = [n for n in needles if n not in text]
    assert not missing, "expected substrings missing: %r\n--- transcript ---\n%s" % (missing, text)


def sort_bracket_list(line: str) -> str:
    """'[b, a]' -> '[a, b]' (for lists whose order is a hash order on the server)."""
    m = re.fullmatch(r"\[(.*)\]", line)
    if not m or not m.group(1):
        return line
    return "[%s]" % ", ".join(sorted(m.group(1).split(", ")))
