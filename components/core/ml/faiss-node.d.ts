// The methods scripts/build-faiss.mjs adds to faiss-node's binding: search-time parameters such as HNSW's
// efSearch and IVF's nprobe (faiss's ParameterSpace), typed-array search/add/train that hand faiss the
// Float32Array's own memory (no per-number copy), and faiss's OpenMP thread count.
import 'faiss-node';

declare module 'faiss-node' {
  interface Float32SearchResult {
    /** size n*k, written by faiss directly */
    distances: Float32Array;
    /** size n*k; -1 where fewer than k were found */
    labels: Int32Array;
  }
  interface Index {
    setSearchParameter(name: string, value: number): void;
    /** `queries` is n*d floats; searched in place, no copy. */
    searchFloat32(queries: Float32Array, k: number): Float32SearchResult;
    /** searchFloat32 into the caller's arrays (each at least n*k long): nothing allocated per call. */
    searchInto(queries: Float32Array, k: number, distances: Float32Array, labels: Int32Array): void;
    /**
     * searchFloat32 on a libuv worker thread: the event loop goes on meanwhile. The query is copied
     * at the call; bad arguments throw there, a faiss error rejects. Do not add to or train the index
     * while a search is in flight.
     */
    searchAsync(queries: Float32Array, k: number): Promise<Float32SearchResult>;
    addFloat32(vectors: Float32Array): void;
    trainFloat32(vectors: Float32Array): void;
  }
  /** omp_set_num_threads: faiss's OpenMP threads in this process. */
  function setOmpThreads(threads: number): void;
  function getOmpThreads(): number;
}
