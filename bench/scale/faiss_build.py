"""python3-faiss side of the scale curve's index step: builds the same factory type from the same vectors
(trained on a random sample of the same size, all OpenMP threads, as the Node side), reports its build
time, size and recall@k with the same nprobe/efSearch on the same held-out queries. Prints one JSON line.
Usage: faiss_build.py <vectors.f32> <queries.f32> <truth.i32> <dim> <k> <type> <train sample> <nprobe or 0> <efSearch or 0>
         [<quantizer efSearch or 0> (an IVF type with an HNSW quantizer: the Node side's, set before adding)]
"""
import json
import sys
import time

import faiss
import numpy as np

vectors_path, queries_path, truth_path = sys.argv[1:4]
dim, k = int(sys.argv[4]), int(sys.argv[5])
kind = sys.argv[6]
train, nprobe, ef_search = (int(value) for value in sys.argv[7:10])
quantizer_ef_search = int(sys.argv[10]) if len(sys.argv) > 10 else 0
vectors = np.fromfile(vectors_path, dtype="<f4").reshape(-1, dim)
queries = np.fromfile(queries_path, dtype="<f4").reshape(-1, dim)
truth = np.fromfile(truth_path, dtype="<i4").reshape(len(queries), k)

start = time.perf_counter()
index = faiss.index_factory(dim, kind, faiss.METRIC_INNER_PRODUCT)
if not index.is_trained:
    rows = np.random.default_rng(17).choice(len(vectors), size=min(train, len(vectors)), replace=False)
    index.train(vectors[np.sort(rows)])
if quantizer_ef_search:
    faiss.ParameterSpace().set_index_parameter(index, "quantizer_efSearch", quantizer_ef_search)
index.add(vectors)
build_seconds = time.perf_counter() - start
if nprobe:
    faiss.ParameterSpace().set_index_parameter(index, "nprobe", nprobe)
if ef_search:
    faiss.ParameterSpace().set_index_parameter(index, "efSearch", ef_search)
labels = index.search(queries, k)[1]
recall = float(np.mean([len(set(found.tolist()) & set(expected.tolist())) / k for found, expected in zip(labels, truth)]))
print(json.dumps({"faiss": faiss.__version__, "buildSeconds": build_seconds, "bytes": int(faiss.serialize_index(index).size), "recall": recall}))
