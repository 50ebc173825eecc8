#!/usr/bin/env python3
"""Prints net_micro's paired results (Google Benchmark JSON, benchmarks `tx`
and `rx`) as a table: CPU time per frame of the raw TAP floor and of Wren's
path, measured in alternating blocks, and their ratio (medians of the
repetitions)."""
import json
import re
import sys


def main(path):
    with open(path) as f:
        data = json.load(f)
    rows = []
    for b in data["benchmarks"]:
        if b.get("aggregate_name", "median") != "median" or b.get("error_occurred"):
            continue
        m = re.match(r"(tx|rx)/frame:(\d+)/batch:(\d+)", b["name"])
        if m:
            rows.append((m.group(1), int(m.group(2)), int(m.group(3)), b))
    if not rows:
        print("(no paired tx/rx results)")
        return
    print("CPU time per frame, medians; raw = the TAP floor without a VMM, measured alternately with Wren")
    print("| path | frame | frames/wakeup | raw TAP floor | Wren | Wren/raw | interrupts/frame |")
    print("|---|---|---|---|---|---|---|")
    for direction, frame, batch, b in sorted(rows, key=lambda r: (r[0] == "rx", r[1], r[2])):
        print(f"| {direction.upper()} | {frame} B | {batch} | {b['raw_ns']:,.0f} ns | {b['wren_ns']:,.0f} ns "
              f"| {b['ratio']:.2f} | {b['irq_per_frame']:.2f} |")


if __name__ == "__main__":
    main(sys.argv[1])
