"""python3-faiss side of bench/faiss.bench.ts: the same index file and the same queries as faiss-node,
one query per call (how a service searches) and the whole batch in one call; QPS and recall@k against
the exact neighbours the Node side computed. Prints one JSON line.
Usage: faiss_search.py <index.faiss> <queries.f32> <truth.i32> <dim> <k> <efSearch or 0> <repeat>
"""
import json
import sys
import time

import faiss
import numpy as np

index_path, queries_path, truth_path = sys.argv[1:4]
dim, k, ef_search, repeat = (int(value) for value in sys.argv[4:8])
index = faiss.read_index(index_path)
if ef_search:
    faiss.ParameterSpace().set_index_parameter(index, "efSearch", ef_search)
queries = np.fromfile(queries_path, dtype="<f4").reshape(-1, dim)
truth = np.fromfile(truth_path, dtype="<i4").reshape(len(queries), k)


def recall(labels):
    return float(np.mean([len(set(found.tolist()) & set(expected.tolist())) / k for found, expected in zip(labels, truth)]))


def best_of(run):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        labels = run()
        times.append(time.perf_counter() - start)
    return min(times), labels


single_seconds, single_labels = best_of(lambda: np.vstack([index.search(queries[q : q + 1], k)[1] for q in range(len(queries))]))
batch_seconds, batch_labels = best_of(lambda: index.search(queries, k)[1])
print(json.dumps({
    "available": True,
    "faiss": faiss.__version__,
    "threads": faiss.omp_get_max_threads(),
    "single": {"seconds": single_seconds, "qps": len(queries) / single_seconds, "recall": recall(single_labels)},
    "batch": {"seconds": batch_seconds, "qps": len(queries) / batch_seconds, "recall": recall(batch_labels)},
}))
