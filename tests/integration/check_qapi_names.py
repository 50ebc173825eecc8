"""Checks the QAPI names Wren's unit tests hold its QMP replies to
(the kName sets in tests/unit/vmm/api/qemu_shapes_test.cc) against a real
QEMU's schema, read from `query-qmp-schema` of `qemu-system-x86_64 -M none`
(Debian's qemu-system-x86; boots nothing, ctest label unit). A name the unit
tests accept must exist in QEMU's schema, and every member QEMU requires in
RxFilterInfo, StatusInfo and the stats replies (qapi/stats.json) must be in
the sets."""

import json
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEST = REPO / "tests" / "unit" / "vmm" / "api" / "qemu_shapes_test.cc"
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg, flush=True)


def sets_in_test():
    text = TEST.read_text()
    found = {}
    for m in re.finditer(r"const std::set<std::string> (k\w+) = \{(.*?)\};", text, re.S):
        found[m.group(1)] = set(re.findall(r'"([^"]*)"', m.group(2)))
    return found


def qemu_schema():
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "qmp.sock"
        qemu = subprocess.Popen(["qemu-system-x86_64", "-M", "none", "-display", "none", "-nodefaults",
                                 "-qmp", f"unix:{path},server=on,wait=off"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.time() + 30
            while not path.exists():
                if qemu.poll() is not None or time.time() > deadline:
                    raise SystemExit("qemu-system-x86_64 did not start: " + qemu.stderr.read().decode())
                time.sleep(0.1)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(30)
            s.connect(str(path))
            f = s.makefile("rw")

            def call(name):
                f.write(json.dumps({"execute": name}) + "\n")
                f.flush()
                while True:
                    msg = json.loads(f.readline())
                    if "return" in msg:
                        return msg["return"]
                    if "error" in msg:
                        raise SystemExit(f"QEMU refused {name}: {msg}")

            # The greeting comes first; anything else before it is shown and
            # skipped (a CI run once read a message without "QMP" here).
            for _ in range(10):
                greeting = json.loads(f.readline())
                if "QMP" in greeting:
                    break
                print(f"before QEMU's greeting: {greeting}", flush=True)
            else:
                raise SystemExit("QEMU sent no QMP greeting")
            print(f"QEMU {greeting['QMP']['version']['qemu']}", flush=True)
            call("qmp_capabilities")
            schema = call("query-qmp-schema")
            s.close()
            return {e["name"]: e for e in schema}
        finally:
            qemu.kill()
            qemu.wait()


schema = qemu_schema()


def returned(command):
    t = schema[schema[command]["ret-type"]]
    return schema[t["element-type"]] if t["meta-type"] == "array" else t


def members(t):
    return {m["name"]: m for m in t["members"]}


def enum_of(t, member):
    return set(schema[members(t)[member]["type"]]["values"])


def event_members(name):
    return members(schema[schema[name]["arg-type"]])


rx, status, migration = returned("query-rx-filter"), returned("query-status"), returned("query-migrate")
qemu = {
    "kRxFilterInfo": set(members(rx)),
    "kRxState": enum_of(rx, "unicast"),
    "kStatusInfo": set(members(status)),
    "kRunState": enum_of(status, "status"),
    "kMigrationInfo": set(members(migration)),
    "kMigrationStatus": enum_of(migration, "status"),
    "kMigrationStats": set(members(schema[members(migration)["ram"]["type"]])),
    "kShutdownCause": set(schema[event_members("SHUTDOWN")["reason"]["type"]]["values"]),
}
# qapi/stats.json: the filter is a union on "target" (members plus the vcpu variant's).
stats_filter = schema[schema["query-stats"]["arg-type"]]
vcpu_filter = schema[next(v["type"] for v in stats_filter["variants"] if v["case"] == "vcpu")]
stats_request = schema[schema[members(stats_filter)["providers"]["type"]]["element-type"]]
stats_result, stats_schema = returned("query-stats"), returned("query-stats-schemas")
stats = schema[schema[members(stats_result)["stats"]["type"]]["element-type"]]
schema_value = schema[schema[members(stats_schema)["stats"]["type"]]["element-type"]]
qemu.update({
    "kStatsFilter": set(members(stats_filter)) | set(members(vcpu_filter)),
    "kStatsRequest": set(members(stats_request)),
    "kStatsResult": set(members(stats_result)),
    "kStats": set(members(stats)),
    "kStatsSchema": set(members(stats_schema)),
    "kStatsSchemaValue": set(members(schema_value)),
    "kStatsTarget": enum_of(stats_filter, "target"),
    "kStatsProvider": enum_of(stats_result, "provider"),
    "kStatsType": enum_of(schema_value, "type"),
    "kStatsUnit": enum_of(schema_value, "unit"),
})
required = {name: {n for n, m in members(t).items() if "default" not in m}
            for name, t in [("kRxFilterInfo", rx), ("kStatusInfo", status), ("kStatsResult", stats_result),
                            ("kStats", stats), ("kStatsSchema", stats_schema), ("kStatsSchemaValue", schema_value)]}

ours = sets_in_test()
for name, names in qemu.items():
    if name not in ours:
        fail(f"{TEST.name} has no set {name}")
        continue
    # singlestep left StatusInfo in QEMU 8.1; Wren keeps it for older clients.
    extra = ours[name] - names - ({"singlestep"} if name == "kStatusInfo" else set())
    if extra:
        fail(f"{name}: not in QEMU's schema: {sorted(extra)}")
    missing = required.get(name, set()) - ours[name]
    if missing:
        fail(f"{name}: QEMU requires {sorted(missing)}")
    if not extra and not missing:
        print(f"ok {name}: {len(ours[name])} names", flush=True)
print(f"{len(qemu)} sets, {len(failures)} problems", flush=True)
sys.exit(1 if failures else 0)
