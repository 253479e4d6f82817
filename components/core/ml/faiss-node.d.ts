// The method scripts/build-faiss.mjs adds to faiss-node's binding (faiss's ParameterSpace): search-time
// parameters such as HNSW's efSearch and IVF's nprobe.
import 'faiss-node';

declare module 'faiss-node' {
  interface Index {
    setSearchParameter(name: string, value: number): void;
  }
}
