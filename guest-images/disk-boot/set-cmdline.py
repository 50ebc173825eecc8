#!/usr/bin/env python3
"""Sets the kernel command line of a boot disk made by build.sh, in place:
rewrites the fixed-size /boot/cmdline.cfg inside the image (ISO 9660 stores
a file's bytes contiguously, so the file keeps its place and size), which
grub.cfg sources. Copy the cached image first; this edits the file given.

    set-cmdline.py IMAGE CMDLINE
    set-cmdline.py --slot CMDLINE > cmdline.cfg   (the file build.sh puts in the image)
"""

import sys
from pathlib import Path

MARKER = b"# WREN-CMDLINE-SLOT: "
SLOT_BYTES = 4096


def slot(cmdline):
    """The whole cmdline.cfg for `cmdline`, padded to SLOT_BYTES with a comment."""
    if any(c in cmdline for c in "'\n\r\0"):
        raise SystemExit("set-cmdline: the command line may not hold a quote, a newline or a NUL")
    text = MARKER + f"{SLOT_BYTES} bytes, rewritten in place by set-cmdline.py\n".encode()
    text += b"set wren_cmdline='" + cmdline.encode() + b"'\n"
    if len(text) + 2 > SLOT_BYTES:
        raise SystemExit(f"set-cmdline: the command line is longer than the {SLOT_BYTES}-byte slot allows")
    return text + b"#" * (SLOT_BYTES - len(text) - 1) + b"\n"


def rewrite(image, cmdline):
    new = slot(cmdline)
    data = Path(image).read_bytes()
    at = data.find(MARKER)
    if at < 0 or data.find(MARKER, at + 1) >= 0:
        raise SystemExit(f"set-cmdline: {image} does not hold exactly one command-line slot")
    with open(image, "r+b") as f:
        f.seek(at)
        f.write(new)


def main(argv):
    if len(argv) == 3 and argv[1] == "--slot":
        sys.stdout.buffer.write(slot(argv[2]))
    elif len(argv) == 3:
        rewrite(argv[1], argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
