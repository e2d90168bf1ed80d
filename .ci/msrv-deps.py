"""Checks that no dependency of the library crates declares a rust-version above the
workspace's (the documented MSRV).

This machine has one Rust toolchain, so the MSRV cannot be compiled against here; what is
checked instead: clippy's incompatible_msrv lint (clippy reads rust-version, and CI denies
warnings) for the standard library APIs the code uses, and this script for the crates it
depends on. Prints each offender and exits non-zero when there is one.
"""

import json
import subprocess
import sys

LIBRARIES = {"authgate", "authgate-axum", "authgate-sql"}


def version_tuple(v):
    return tuple(int(p) for p in v.split(".")[:3]) + (0,) * (3 - len(v.split(".")[:3]))


def main():
    meta = json.loads(
        subprocess.check_output(
            ["cargo", "metadata", "--format-version", "1", "--all-features", "--locked"]
        )
    )
    packages = {p["id"]: p for p in meta["packages"]}
    ours = {p["name"]: p for p in packages.values() if p["name"] in LIBRARIES}
    msrv = {p["rust_version"] for p in ours.values()}
    if len(msrv) != 1 or None in msrv:
        sys.exit(f"the library crates do not share one rust-version: {msrv}")
    msrv = msrv.pop()
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    # Normal and build dependencies (build scripts compile on the MSRV too) reachable
    # from the libraries; not dev-dependencies.
    seen, stack = set(), [p["id"] for p in ours.values()]
    while stack:
        node = nodes[stack.pop()]
        for dep in node["deps"]:
            if any(k["kind"] in (None, "build") for k in dep["dep_kinds"]) and dep["pkg"] not in seen:
                seen.add(dep["pkg"])
                stack.append(dep["pkg"])
    bad = [
        f'{packages[i]["name"]} {packages[i]["version"]} needs Rust {packages[i]["rust_version"]}'
        for i in sorted(seen)
        if packages[i].get("rust_version")
        and version_tuple(packages[i]["rust_version"]) > version_tuple(msrv)
    ]
    for line in bad:
        print(line)
    print(f"MSRV {msrv}: {len(seen)} dependencies checked, {len(bad)} above it")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
