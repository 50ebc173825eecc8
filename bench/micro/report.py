#!/usr/bin/env python3
"""Prints net_micro's results (Google Benchmark JSON) as a table: per-frame
cost of Wren's TX and RX paths next to the raw TAP floor, and their ratio
(medians of the repetitions)."""
import json
import re
import sys


def main(path):
    with open(path) as f:
        data = json.load(f)
    per_frame = {}  # (kind, direction, frame, batch) -> (ns, irq/frame)
    for b in data["benchmarks"]:
        if b.get("aggregate_name", "median") != "median" or b.get("error_occurred"):
            continue
        m = re.match(r"(raw|wren)_(tx|rx)/frame:(\d+)/batch:(\d+)", b["name"])
        if not m:
            continue
        kind, direction, frame, batch = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
        per_frame[(kind, direction, frame, batch)] = (b["frame"] * 1e9, b.get("irq_per_frame"), b["user_ns"],
                                                      b["sys_ns"])
    print("CPU time per frame (user + system), medians; raw = the TAP floor without a VMM")
    print("| path | frame | frames/wakeup | raw (user/sys) | Wren (user/sys) | Wren/raw | interrupts/frame |")
    print("|---|---|---|---|---|---|---|")
    for direction in ("tx", "rx"):
        for frame in sorted({k[2] for k in per_frame}):
            for batch in sorted({k[3] for k in per_frame}):
                raw = per_frame.get(("raw", direction, frame, batch))
                wren = per_frame.get(("wren", direction, frame, batch))
                if not raw or not wren:
                    continue
                irq = "" if wren[1] is None else f"{wren[1]:.2f}"
                print(f"| {direction.upper()} | {frame} B | {batch} | {raw[0]:,.0f} ns ({raw[2]:,.0f}/{raw[3]:,.0f}) "
                      f"| {wren[0]:,.0f} ns ({wren[2]:,.0f}/{wren[3]:,.0f}) | {wren[0] / raw[0]:.2f} | {irq} |")


if __name__ == "__main__":
    main(sys.argv[1])
