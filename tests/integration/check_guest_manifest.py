"""Fast consistency check of guest-images/manifest.json (ctest label unit;
boots nothing). Fails if a guest has no registered integration test that
boots it through the manifest, if a placeholder has no source, if a build
script is missing or unknown to the harness, or if a Debian package is not
in scripts/install-deps.sh or its file is not installed."""

import re
import shlex
import sys
from pathlib import Path

import harness

REPO = harness.REPO
failures = []


def fail(msg):
    failures.append(msg)
    print(f"FAIL {msg}", flush=True)


def registered_tests():
    """ctest name -> (script, arguments) from tests/integration/CMakeLists.txt."""
    text = (REPO / "tests" / "integration" / "CMakeLists.txt").read_text()
    tests = {}
    for m in re.finditer(r"^\s*wren_integration_test\(([^)]*)\)", text, re.M):
        name, script, *args = shlex.split(m.group(1))
        tests[name] = (script, args)
    return tests


def installed_packages_listed():
    text = (REPO / "scripts" / "install-deps.sh").read_text()
    body = re.search(r"packages=\((.*?)\)", text, re.S)
    return set(body.group(1).split()) if body else set()


manifest = harness.manifest()
artifacts, params, guests = manifest["artifacts"], manifest["params"], manifest["guests"]
tests = registered_tests()
packages = installed_packages_listed()

for name, a in artifacts.items():
    if "package" in a:
        if a["package"] not in packages:
            fail(f"artifact {name}: package {a['package']} is not in scripts/install-deps.sh")
        if not Path(a["path"]).is_file():
            fail(f"artifact {name}: {a['path']} (package {a['package']}) is not installed")
    elif "build" in a:
        if not (REPO / a["build"]).is_file():
            fail(f"artifact {name}: build script {a['build']} does not exist")
        if a["build"] not in harness.MANIFEST_BUILDERS:
            fail(f"artifact {name}: tests/integration/harness.py has no builder for {a['build']}")
        if not a.get("output"):
            fail(f"artifact {name}: no output named")
    else:
        fail(f"artifact {name}: neither a package nor a build script")

names = [g["name"] for g in guests]
for dup in {n for n in names if names.count(n) > 1}:
    fail(f"guest {dup} is listed twice")
for guest in guests:
    gname = guest["name"]
    for field in ("summary", "needs", "boot", "healthy", "tests"):
        if not guest.get(field):
            fail(f"guest {gname}: no {field}")
    try:
        re.compile(guest.get("healthy", ""))
    except re.error as e:
        fail(f"guest {gname}: healthy regex does not compile: {e}")
    for needed in guest.get("needs", []):
        if needed not in artifacts:
            fail(f"guest {gname}: needs unknown artifact {needed}")
    for arg in guest.get("boot", []):
        for key in re.findall(r"\{(\w+)\}", arg):
            if key not in guest.get("needs", []) and key not in params:
                fail(f"guest {gname}: placeholder {{{key}}} is neither a needed artifact nor a documented param")
    booted_by = []
    for test in guest.get("tests", []):
        if test not in tests:
            fail(f"guest {gname}: test {test} is not registered in tests/integration/CMakeLists.txt")
            continue
        script, args = tests[test]
        source = (REPO / "tests" / "integration" / script).read_text()
        # The test boots this guest if it asks the manifest for it by name,
        # in its source or through its registered arguments.
        if "manifest_guest(" in source and (f'"{gname}"' in source or gname in args):
            booted_by.append(test)
        else:
            fail(f"guest {gname}: test {test} ({script}) does not boot it through harness.manifest_guest")
    if not booted_by:
        fail(f"guest {gname}: no registered integration test boots it")
    else:
        print(f"ok {gname}: booted by {', '.join(booted_by)}", flush=True)

print(f"{len(guests)} guests, {len(failures)} problems", flush=True)
sys.exit(1 if failures else 0)
