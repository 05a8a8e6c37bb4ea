"""`make audit`: known vulnerabilities in the serving image's pinned packages, without false passes.

pip-audit prints "No known vulnerabilities found" and exits 0 even when it could look up none of the
packages (its advisory service unreachable: every package "could not be audited"). This reads its JSON
report instead and exits 0 only when every package was checked and none is vulnerable; 1 when a package
is vulnerable; 3 when some could not be checked, naming them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(requirements: str = "requirements/serve.txt") -> int:
    pip_audit = Path(sys.executable).parent / "pip-audit"
    result = subprocess.run(
        [
            str(pip_audit),
            "--requirement",
            requirements,
            "--no-deps",
            "--disable-pip",
            "--progress-spinner",
            "off",
            "--format",
            "json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        print(f"NOT AUDITED: pip-audit failed ({result.returncode}): {result.stderr.strip()[-800:]}")
        return 3
    dependencies = report.get("dependencies", [])
    skipped = [dep for dep in dependencies if dep.get("skip_reason")]
    vulnerable = [dep for dep in dependencies if dep.get("vulns")]
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed version yet"
            print(f"VULNERABLE: {dep['name']} {dep['version']}: {vuln['id']} (fixed in: {fixed})")
    if skipped:
        print(
            f"NOT AUDITED: {len(skipped)} of {len(dependencies)} packages could not be checked, so this is not a "
            f"pass: {', '.join(dep['name'] for dep in skipped)}. Reason given: {skipped[0]['skip_reason']}"
        )
    if vulnerable:
        return 1
    if skipped or not dependencies:
        return 3
    print(f"audited {len(dependencies)} pinned packages of {requirements}: no known vulnerabilities")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
