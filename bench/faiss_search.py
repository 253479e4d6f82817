"""python3-faiss side of bench/faiss.bench.ts: the same index file and the same queries as faiss-node,
one query per call (how a service searches) and the whole batch in one call; QPS and recall@k against
the exact neighbours the Node side computed. Prints one JSON line.
One query per call runs with <single threads> OpenMP threads (as the Node side does), the batch with all.
Usage: faiss_search.py <index.faiss> <queries.f32> <truth.i32> <dim> <k> <efSearch or 0> <repeat> [<single threads> [<passes>]]
"""
import json
import sys
import time

import faiss
import numpy as np

index_path, queries_path, truth_path = sys.argv[1:4]
dim, k, ef_search, repeat = (int(value) for value in sys.argv[4:8])
single_threads = int(sys.argv[8]) if len(sys.argv) > 8 else 0
# One query a call: the query set is run this many times in one timed run (as the Node side does), so
# that a run lasts long enough for CPU time to be measured.
passes = int(sys.argv[9]) if len(sys.argv) > 9 else 1
all_threads = faiss.omp_get_max_threads()
index = faiss.read_index(index_path)
if ef_search:
    faiss.ParameterSpace().set_index_parameter(index, "efSearch", ef_search)
queries = np.fromfile(queries_path, dtype="<f4").reshape(-1, dim)
truth = np.fromfile(truth_path, dtype="<i4").reshape(len(queries), k)


def recall(labels):
    return float(np.mean([len(set(found.tolist()) & set(expected.tolist())) / k for found, expected in zip(labels, truth)]))


def best_of(run):
    """Best wall time and best CPU time (this process) of `repeat` runs, and the labels."""
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        labels = run()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(times), min(cpu), labels


if single_threads:
    faiss.omp_set_num_threads(single_threads)
def single():
    for _ in range(passes - 1):
        for q in range(len(queries)):
            index.search(queries[q : q + 1], k)
    return np.vstack([index.search(queries[q : q + 1], k)[1] for q in range(len(queries))])


single_seconds, single_cpu, single_labels = best_of(single)
faiss.omp_set_num_threads(all_threads)
batch_seconds, batch_cpu, batch_labels = best_of(lambda: index.search(queries, k)[1])
print(json.dumps({
    "available": True,
    "faiss": faiss.__version__,
    "threads": all_threads,
    "single": {"seconds": single_seconds, "cpuSeconds": single_cpu, "qps": passes * len(queries) / single_seconds, "cpuQps": passes * len(queries) / single_cpu, "passes": passes, "recall": recall(single_labels)},
    "batch": {"seconds": batch_seconds, "cpuSeconds": batch_cpu, "qps": len(queries) / batch_seconds, "cpuQps": len(queries) / batch_cpu, "recall": recall(batch_labels)},
}))
