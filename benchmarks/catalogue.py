"""A realistic catalogue as an interchange document, written as a stream (one work per line).

The graph is `settle_bench.generate` (preferential attachment, 1-8 sources per
work, 1-3 owners among ``works / 3`` creators), with these additions:

* every record consents to AI training (so a model may train on it);
* one record in 20 is a film with two credits (one a creator, one unclaimed)
  and a credit pool of 1/10;
* a remix chain of ``chain`` records, each citing the one before with share 1
  (so the exact reference stays small integers however long the chain),
  so the last one's ancestry holds the whole chain.

    python benchmarks/catalogue.py --works 1000000 --chain 100000 -o catalogue.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from settle_bench import generate  # noqa: E402

KINDS = ("record", "production")


def write_catalogue(
    out: TextIO, works: int, chain: int, records: list[str] | None = None
) -> dict[str, int]:
    """Write the document; returns its counts. ``records`` (if given) gets the id of every
    record (all consent to AI training), the chain's first."""
    data = generate(works)
    kinds = data["kinds"].tolist()
    edge_work = data["edge_work"].tolist()
    edge_source = data["edge_source"].tolist()
    share_num = data["share_num"].tolist()
    owner_work = data["owner_work"].tolist()
    owner_creator = data["owner_creator"].tolist()
    own = [
        f"{n}/{d}" if d != 1 else "1"
        for n, d in zip(data["own_num"].tolist(), data["own_den"].tolist(), strict=True)
    ]
    catalogue_records: list[str] = []
    out.write('{"currency": "USD", "works": [\n')
    e = o = 0
    credits = 0
    citations = 0
    for i in range(works):
        owners = {}
        while o < len(owner_work) and owner_work[o] == i:
            owners[f"c{owner_creator[o]}"] = own[o]
            o += 1
        sources = {}
        while e < len(edge_work) and edge_work[e] == i:
            sources[f"w{edge_source[e]}"] = f"0.{share_num[e]:02d}"
            e += 1
        citations += len(sources)
        item: dict[str, object] = {"id": f"w{i}", "kind": KINDS[kinds[i]], "owners": owners}
        if sources:
            item["sources"] = sources
        if kinds[i] == 0:
            if records is not None:
                catalogue_records.append(item["id"])
            item["consent"] = {"remix": True, "ai_training": True}
            if i % 20 == 0:
                item["credits"] = [
                    {
                        "payee": f"c{(i * 7) % max(works // 3, 1)}",
                        "role": "performer",
                        "weight": "3",
                    },
                    {
                        "payee": f"credit:u{i}",
                        "role": "sound mixer",
                        "weight": "1",
                        "name": f"Mixer {i}",
                    },
                ]
                item["credit_pool"] = "1/10"
                credits += 2
        out.write(json.dumps(item, separators=(",", ":")))
        out.write(",\n" if i < works - 1 or chain else "\n")
    for j in range(chain):
        item = {
            "id": f"chain{j}",
            "kind": "record",
            "owners": {f"c{j % max(works // 3, 1)}": "1"},
            "consent": {"remix": True, "ai_training": True},
        }
        if j:
            item["sources"] = {f"chain{j - 1}": "1"}
            citations += 1
        out.write(json.dumps(item, separators=(",", ":")))
        out.write(",\n" if j < chain - 1 else "\n")
    out.write('], "events": []}\n')
    if records is not None:
        records.extend(f"chain{j}" for j in range(chain))
        records.extend(catalogue_records)
    return {"works": works + chain, "citations": citations, "credits": credits}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--works", type=int, default=100_000)
    parser.add_argument("--chain", type=int, default=100_000)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    start = time.perf_counter()
    with args.output.open("w", encoding="utf-8") as out:
        counts = write_catalogue(out, args.works, args.chain)
    print(json.dumps({**counts, "seconds": round(time.perf_counter() - start, 1)}))


if __name__ == "__main__":
    main()
