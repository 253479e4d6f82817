"""The seed's serving stack for the search service benchmark: FastAPI + uvicorn + faiss (Debian's
python3-fastapi, python3-uvicorn, python3-faiss), serving "products similar to P" from the same
published index files the Node service loads: products.faiss, products.json (rows in vector order)
and products.vectors.f32 (n x dim float32). One process, one worker, like the Node service.
Usage: serve_baseline.py <folder with the three files> <port>
"""
import json
import os
import sys

import faiss
import numpy as np
import uvicorn
from fastapi import FastAPI, HTTPException

folder, port = sys.argv[1], int(sys.argv[2])
index = faiss.read_index(os.path.join(folder, "products.faiss"))
rows = json.load(open(os.path.join(folder, "products.json"), encoding="utf-8"))
vectors = np.fromfile(os.path.join(folder, "products.vectors.f32"), dtype="<f4").reshape(len(rows), -1)
position_by_id = {row["id"]: k for k, row in enumerate(rows)}
FIELDS = ("id", "title", "root", "priceMinor", "town")

app = FastAPI()


@app.get("/readyz")
def ready():
    return {"ready": True, "products": index.ntotal}


@app.get("/products/{product_id}/similar")
def similar(product_id: str, k: int = 10):
    if not 1 <= k <= 100:
        raise HTTPException(status_code=400, detail="k must be between 1 and 100")
    position = position_by_id.get(product_id)
    if position is None:
        raise HTTPException(status_code=404, detail=f"no product '{product_id}'")
    distances, labels = index.search(vectors[position : position + 1], min(index.ntotal, k + 1))
    results = []
    for label, score in zip(labels[0].tolist(), distances[0].tolist()):
        if label < 0 or label == position or len(results) >= k:
            continue
        row = rows[label]
        results.append({**{f: row[f] for f in FIELDS}, "score": score})
    product = rows[position]
    return {"product": {f: product[f] for f in FIELDS}, "results": results}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
