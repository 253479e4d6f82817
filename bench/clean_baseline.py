"""The seed's stack as the clean benchmark's baseline: pandas reading the same Products.csv and applying
the same price and category rules (price text to pence, zero prices dropped, root category, title tail
stripped). Prints one JSON line: rows, seconds (best of --repeat). Run with Debian's python3-pandas:
/usr/bin/python3 bench/clean_baseline.py <Products.csv> [repeat]"""
import json
import sys
import time

import pandas as pd


def clean(path):
    # Records end at LF only: the descriptions carry bare CRs (see shared/data/README.md).
    frame = pd.read_csv(path, lineterminator="\n", dtype=str, keep_default_na=False)
    price = pd.to_numeric(frame["price"].str.replace(r"[£,]", "", regex=True), errors="coerce")
    frame["price_minor"] = (price * 100).round()
    frame["root_category"] = frame["category"].str.split(" / ").str[0].str.strip()
    frame["title"] = frame["product_name"].str.replace(r"\s*\|\s*in\s+[^|]*\|\s*Gumtree\s*$", "", regex=True)
    kept = frame[(frame["price_minor"] > 0) & (frame["root_category"] != "")]
    return len(frame), len(kept)


path = sys.argv[1]
repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 3
best = float("inf")
for _ in range(repeat):
    start = time.perf_counter()
    rows, kept = clean(path)
    best = min(best, time.perf_counter() - start)
print(json.dumps({"rows": rows, "kept": kept, "seconds": best}))
