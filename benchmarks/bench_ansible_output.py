#!/usr/bin/env python3
"""How long the output of a failing deploy run is, and whom PLAY RECAP blames.

    sudo python3 benchmarks/bench_ansible_output.py [--unreachable fw-nord,fw-sud] [--json]

Brings the example inventory's lab up (its own lab id, nothing deployed yet), runs ``ansible-playbook -i
inventories/example playbooks/deploy.yml -e @<lab>/ansible-vars.yml`` with the listed devices unreachable
(``vendorwall_deploy_connections`` points them at an address with no route; the others are pushed and
change), or with --converge-first once without failures before, and prints: the
lines of output (stdout + stderr) of that failing run, its exit code, and the PLAY RECAP counts per host.
Always takes the lab down.

Measured on the issue's scenario (two firewalls unreachable, 10 devices): 3,563 lines before per-device
results, PLAY RECAP crediting the failure to the first host and showing both unreachable devices as ok;
96 lines after (same scenario), each unreachable device 'unreachable=1' in PLAY RECAP.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

from vendorwall.lab import runner  # noqa: E402


def _playbook(lab_vars: str, extra: dict | None, state_base: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable)) or "ansible-playbook"
    cmd = [tool, "-i", os.path.join(ROOT, "inventories", "example"), os.path.join(ROOT, "playbooks", "deploy.yml"),
           "-e", "@" + lab_vars, "-e", f"vendorwall_out={state_base}/out"]
    if extra:
        cmd += ["-e", json.dumps(extra)]
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
           "VENDORWALL_STATE_DIR": state_base}
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--unreachable", default="fw-nord,fw-sud", help="devices made unreachable (comma-separated)")
    ap.add_argument("--converge-first", action="store_true", help="deploy everything once before the failing run")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (the lab: network namespaces, nftables)", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="vw-bench-output-")
    lab_dir, lab_id = os.path.join(tmp, "lab"), "bo" + format(os.getpid() % 4096, "03x")
    try:
        state = runner.up(os.path.join(ROOT, "inventories", "example"), lab_dir=lab_dir, lab_id=lab_id)
        lab_vars = runner.ansible_vars_path(state)
        if args.converge_first:
            first = _playbook(lab_vars, None, tmp)
            if first.returncode != 0:
                print(first.stdout[-3000:], first.stderr[-2000:], file=sys.stderr)
                return 1
        down = {d: {"host": "10.250.99.99"} for d in args.unreachable.split(",") if d}
        run = _playbook(lab_vars, {"vendorwall_deploy_connections": down}, tmp)
        lines = len((run.stdout + run.stderr).splitlines())
        recap = {m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
                 for m in re.finditer(r"^(\S+)\s+: ((?:\w+=\d+\s*)+)$", run.stdout.split("PLAY RECAP", 1)[-1], re.M)}
        result = {"lines": lines, "exit": run.returncode, "unreachable_devices": sorted(down),
                  "recap": recap}
        if args.json:
            print(json.dumps(result, indent=1, sort_keys=True))
        else:
            print(f"failing deploy run ({len(down)} of {len(recap) - 1} devices unreachable): {lines} lines, "
                  f"exit {run.returncode}")
            for host, counts in sorted(recap.items()):
                print(f"  {host:<14} " + " ".join(f"{k}={v}" for k, v in counts.items()
                                                   if k in ("ok", "changed", "unreachable", "failed")))
        return 0
    finally:
        runner.down(lab_dir, f"vw{lab_id}-")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
