"""Summarise a FUZZ_COLLECT file: one entry per distinct failure, the smallest reproduction first.

    python tests/fuzz/catalogue.py /tmp/fuzz.jsonl > /tmp/fuzz_catalogue_raw.md

Distinct = same category, exception type and innermost project frame (function, not line);
hangs by what was mutated or which options were given (where a hang is interrupted varies);
message and check-vs-run failures by the message with names and numbers taken out.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ORDER = ["traceback", "hang", "unreported-failure", "check-vs-run", "exit-code", "message",
         "engine-fault"]


def _normal(text: str) -> str:
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    text = re.sub(r"(/[\w.\-☃ ]+)+", "PATH", text)
    text = re.sub(r"[\w.\-]+\.json", "FILE", text)
    text = re.sub(r"\d+(\.\d+)?(e[+-]?\d+)?", "N", text)
    return re.sub(r"\s+", " ", text)[:90]


def _family(record: dict[str, Any]) -> str:
    repro = record.get("repro", {})
    labels = repro.get("mutations")
    if labels:
        found = re.findall(r"\(([^()]*)\)\s*$", labels[-1])
        text = found[0] if found else labels[-1].split(": ", 1)[-1]
        return _normal(text)
    command = repro.get("command", "")
    return " ".join(sorted(set(re.findall(r"(?<=\s)--?[a-z][a-z-]*", command))))


def signature(record: dict[str, Any]) -> tuple[str, ...]:
    category = record["category"]
    if category == "hang":
        return (category, record["step"], _family(record))
    if category in ("message", "check-vs-run", "unreported-failure", "exit-code",
                    "engine-fault"):
        first = record["detail"].split("\n")[0]
        return (category, record["kind"], _normal(first))
    return (category, record["kind"], record["where"])


def size(record: dict[str, Any]) -> int:
    repro = record.get("repro", {})
    files = repro.get("files") or {}
    return sum(len(v) for v in files.values()) + len(repro.get("command", ""))


def render(records: list[dict[str, Any]], stats: dict[str, int], leftover: Any) -> str:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[signature(r)].append(r)
    ordered = sorted(groups.items(), key=lambda kv: (
        ORDER.index(kv[0][0]) if kv[0][0] in ORDER else 99, -len(kv[1])))
    out = ["# Fuzz failures (raw)", ""]
    if stats:
        out.append("Examples run: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.items())))
    out.append(f"{len(records)} violations, {len(groups)} distinct.")
    if leftover:
        out += ["", "**The process died during this example** (backstop or OOM):", "```",
                json.dumps(leftover, indent=1)[:3000], "```"]
    for n, (sig, items) in enumerate(ordered, 1):
        best = min(items, key=size)
        tests = sorted({f"{r['test']}/{r['step']}" for r in items})
        out += ["", f"## {n}. {' | '.join(s for s in sig if s)}", "",
                f"- seen {len(items)} times in {', '.join(tests)}",
                f"- where: {best['where']}:{best.get('line')}" if best["where"] else "- where: -"]
        repro = best.get("repro", {})
        for key in ("origin", "mutations", "command", "run command", "junk"):
            if key in repro:
                out.append(f"- {key}: `{repro[key]}`")
        out += ["", "```", best["detail"][-2500:], "```"]
        for name, content in (repro.get("files") or {}).items():
            shown = content if len(content) < 3000 else content[:3000] + "\n..."
            out += [f"<details><summary>{name}</summary>", "", "```", shown, "```", "</details>"]
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    path = Path(argv[1])
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
               if line.strip()]
    stats_file = Path(str(path) + ".stats.json")
    stats = json.loads(stats_file.read_text(encoding="utf-8")) if stats_file.is_file() else {}
    current = Path(str(path) + ".current")
    leftover = json.loads(current.read_text(encoding="utf-8")) if current.is_file() else None
    sys.stdout.write(render(records, stats, leftover))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
