#!/usr/bin/env python3
"""Fails when product code includes a header from a layer above its own.

The layers, top down: vmm/ -> migrate/ -> virtio/ -> devices/ -> hypervisor/.
A file may include headers of its own layer and of the layers below it.
Inside vmm/, boot/ and cpu/ are below the machine assembly (cli, api,
migration, machine), which may use them but not the other way round.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Higher number = higher layer.
LAYERS = [
    ("hypervisor/", 0),
    ("devices/", 1),
    ("virtio/", 2),
    ("migrate/", 3),
    ("vmm/boot/", 4),
    ("vmm/cpu/", 4),
    ("vmm/", 5),
]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(path: str):
    for prefix, rank in LAYERS:
        if path.startswith(prefix):
            return rank
    return None


def violations(root: pathlib.Path):
    for source in sorted(root.glob("**/*")):
        rel = source.relative_to(root).as_posix()
        if source.suffix not in (".cc", ".h") or rel.startswith(("tests/", "build", "bench/", "guest-images/")):
            continue
        own = layer_of(rel)
        if own is None:
            continue
        for header in INCLUDE.findall(source.read_text(errors="replace")):
            target = layer_of(header)
            if target is not None and target > own:
                yield f"{rel} includes {header}, a layer above its own"


def main() -> int:
    found = list(violations(ROOT))
    for line in found:
        print(line)
    print(f"layering: {len(found)} upward include(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
