#!/usr/bin/env python3
"""Reruns every `$ hoptrace ...` example (but live captures and the store's) of README.md's console blocks and writes the output it really prints.

    tools/readme-examples.py [--check] [--binary PATH]

The examples run from the repository root with the built binary first on PATH (.build/release, else .build/debug),
through bash (pipes and `| head` work). --check only reports the examples whose output differs (exit 1), as
Tests/HoptraceCLITests/ReadmeTests does for the ones it covers.
"""
import argparse
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--check", action="store_true")
parser.add_argument("--binary")
args = parser.parse_args()

binary = args.binary or next(
    (str(ROOT / p) for p in (".build/release/hoptrace", ".build/debug/hoptrace") if (ROOT / p).exists()), None)
if binary is None:
    sys.exit("readme-examples: build hoptrace first (swift build -c release --product hoptrace)")
env = dict(os.environ, PATH=str(pathlib.Path(binary).parent) + ":" + os.environ["PATH"], NO_COLOR="1", COLUMNS="200")

lines = (ROOT / "README.md").read_text().split("\n")
out, i, changed = [], 0, []
while i < len(lines):
    line = lines[i]
    out.append(line)
    i += 1
    if line.strip() != "```console":
        continue
    while i < len(lines) and lines[i].strip() != "```":
        # Live captures and the store's examples (they need a running ClickHouse; FleetTests checks what they print)
        # are shown, not rerun.
        if lines[i].startswith("$ hoptrace") and not any(
                word in lines[i] for word in (" capture ", "--live", "--store")):
            command = lines[i][2:]
            out.append(lines[i])
            i += 1
            old = []
            while i < len(lines) and not lines[i].startswith("$ ") and lines[i].strip() != "```":
                old.append(lines[i])
                i += 1
            run = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True)
            new = (run.stdout + run.stderr).rstrip("\n").split("\n") if (run.stdout + run.stderr) else []
            if new != old:
                changed.append(command)
            out.extend(new)
        else:
            out.append(lines[i])
            i += 1
for command in changed:
    print(("differs: " if args.check else "updated: ") + command)
if args.check:
    sys.exit(1 if changed else 0)
(ROOT / "README.md").write_text("\n".join(out))
