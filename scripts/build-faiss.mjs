// Builds faiss-node's native binding against Debian's libfaiss (faiss 1.7.3), as ../shared/RECIPES.md
// describes: faiss-node's own install script downloads a prebuilt binary or clones faiss from GitHub,
// and neither can work offline, so package.json denies it (allowScripts) and this runs instead.
//   node scripts/build-faiss.mjs            postinstall: build when libfaiss-dev is there (installing it
//                                           first on Debian as root), else say how
//   node scripts/build-faiss.mjs --require  fail (exit 1) when it cannot be built
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const required = process.argv.includes('--require');
const say = (text) => process.stderr.write(`build-faiss: ${text}\n`);

let packageDir;
try {
  packageDir = path.dirname(require.resolve('faiss-node/package.json'));
} catch {
  say('faiss-node is not installed; nothing to build');
  process.exit(required ? 1 : 0);
}
const target = path.join(packageDir, 'build', 'Release', 'faiss-node.node');
// Built by this script (not a stale binary, nor one built by an older version of it): the patched methods
// below are there.
const loads = () =>
  spawnSync(
    process.execPath,
    [
      '-e',
      "const { Index, IndexFlatIP } = require('faiss-node'); const f = require('faiss-node'); if (!Index.prototype.setSearchParameter || !f.setOmpThreads) process.exit(1); for (const m of ['searchFloat32', 'searchInto', 'searchAsync', 'addFloat32', 'trainFloat32']) if (!Index.prototype[m] || !IndexFlatIP.prototype[m]) process.exit(1)",
    ],
    { cwd: path.dirname(packageDir) },
  ).status === 0;

if (existsSync(target) && loads()) process.exit(0);

// On Debian as root (a fresh machine, a CI runner, an image build) the missing system packages are
// installed here, so that `npm ci` alone gives a working checkout; MARKETPLACE_NO_APT=1 opts out.
// Elsewhere the script says what to install and leaves the system alone.
const SYSTEM_PACKAGES = ['libfaiss-dev', 'libopenblas0-pthread'];
const FAISS_HEADER = '/usr/include/faiss/Index.h'; // from libfaiss-dev
if (!existsSync(FAISS_HEADER) && process.getuid?.() === 0 && existsSync('/usr/bin/apt-get') && process.env.MARKETPLACE_NO_APT !== '1') {
  say(`installing Debian's ${SYSTEM_PACKAGES.join(' ')} (set MARKETPLACE_NO_APT=1 to skip)`);
  const apt = (...args) =>
    spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
      .status === 0;
  // A fresh machine may have no package lists yet: update once and retry.
  if (!apt('install', '-y', '-qq', ...SYSTEM_PACKAGES) && !(apt('update', '-qq') && apt('install', '-y', '-qq', ...SYSTEM_PACKAGES))) {
    say('apt-get could not install them');
  }
}
const nodeHeaders = [path.join(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'].find((dir) =>
  existsSync(path.join(dir, 'node_api.h')),
);
if (!existsSync(FAISS_HEADER) || !nodeHeaders) {
  say(`cannot build: ${nodeHeaders ? "Debian's libfaiss-dev is missing" : "Node's headers are missing"}.`);
  say('install it with: apt-get install -y libfaiss-dev libopenblas0-pthread && npm run build:faiss');
  say('(only the index component and the search service need faiss)');
  process.exit(required ? 1 : 0);
}

mkdirSync(path.dirname(target), { recursive: true });
// faiss 1.7.3 names the id type Index::idx_t; faiss-node expects faiss::idx_t.
const compat = path.join(path.dirname(target), 'compat.h');
writeFileSync(compat, '#include <cstdint>\nnamespace faiss { using idx_t = int64_t; }\n');
const addonApi = path.dirname(require.resolve('node-addon-api/package.json', { paths: [packageDir] }));

// faiss-node exposes no search-time parameters, and HNSW (efSearch) and IVF (nprobe) indexes need
// them to reach a useful recall: add Index#setSearchParameter(name, value), through faiss's own
// ParameterSpace, to a copy of the binding's source.
// faiss-node also takes and returns plain JS arrays only, converting every number one by one (a query
// of 256 numbers, 2k result numbers): add searchFloat32 / addFloat32 / trainFloat32, which hand faiss
// the Float32Array's own memory (no copy) and return the results as typed arrays (distances a
// Float32Array written by faiss directly, labels an Int32Array). Vector counts stay below 2^31.
const FLOAT32_METHODS = `
  // The Float32Array argument i, checked: its memory is passed to faiss as it is.
  bool float32Arg(const Napi::CallbackInfo &info, size_t i, float **data, size_t *rows)
  {
    Napi::Env env = info.Env();
    if (info.Length() <= i || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    {
      Napi::TypeError::New(env, "Expected a Float32Array.").ThrowAsJavaScriptException();
      return false;
    }
    Napi::Float32Array array = info[i].As<Napi::Float32Array>();
    size_t length = array.ElementLength();
    if (length % index_->d != 0)
    {
      Napi::Error::New(env, "Invalid the given array length: " + std::to_string(length) + " is not a multiple of " + std::to_string(index_->d) + ".").ThrowAsJavaScriptException();
      return false;
    }
    *data = array.Data();
    *rows = length / index_->d;
    return true;
  }

  // The (queries: Float32Array, k, ...) arguments of a search taking arity of them, checked; false
  // (an exception pending) when they are wrong. k must be 1..ntotal: faiss asserts k > 0 in native code,
  // which aborts the process.
  bool searchArgs(const Napi::CallbackInfo &info, size_t arity, const char *usage, float **xq, size_t *nq, uint32_t *k)
  {
    Napi::Env env = info.Env();
    if (!float32Arg(info, 0, xq, nq)) return false;
    if (info.Length() != arity || !info[1].IsNumber())
    {
      Napi::TypeError::New(env, usage).ThrowAsJavaScriptException();
      return false;
    }
    *k = info[1].As<Napi::Number>().Uint32Value();
    if (*k < 1)
    {
      Napi::Error::New(env, "Invalid the number of k (must be at least 1).").ThrowAsJavaScriptException();
      return false;
    }
    if (*k > index_->ntotal)
    {
      Napi::Error::New(env, "Invalid the number of k (cannot be given a value greater than \`ntotal\`: " + std::to_string(index_->ntotal) + ").").ThrowAsJavaScriptException();
      return false;
    }
    return true;
  }

  Napi::Value searchFloat32(const Napi::CallbackInfo &info)
  {
    Napi::Env env = info.Env();
    float *xq;
    size_t nq;
    uint32_t k;
    if (!searchArgs(info, 2, "Expected (queries: Float32Array, k: number).", &xq, &nq, &k)) return env.Undefined();
    Napi::Float32Array distances = Napi::Float32Array::New(env, k * nq);
    Napi::Int32Array labels = Napi::Int32Array::New(env, k * nq);
    std::vector<idx_t> found(k * nq);
    try
    {
      index_->search(nq, xq, k, distances.Data(), found.data());
    }
    catch (const faiss::FaissException &ex)
    {
      Napi::Error::New(env, ex.what()).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    int32_t *out = labels.Data();
    for (size_t i = 0; i < found.size(); i++) out[i] = static_cast<int32_t>(found[i]);
    Napi::Object results = Napi::Object::New(env);
    results.Set("distances", distances);
    results.Set("labels", labels);
    return results;
  }

  // searchFloat32 into the caller's arrays (distances Float32Array, labels Int32Array, each >= n*k):
  // nothing allocated per call, for the service's one-query hot path.
  Napi::Value searchInto(const Napi::CallbackInfo &info)
  {
    Napi::Env env = info.Env();
    float *xq;
    size_t nq;
    uint32_t k;
    const char *usage = "Expected (queries: Float32Array, k: number, distances: Float32Array, labels: Int32Array).";
    if (!searchArgs(info, 4, usage, &xq, &nq, &k)) return env.Undefined();
    if (!info[2].IsTypedArray() || !info[3].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
        info[3].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    {
      Napi::TypeError::New(env, usage).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Float32Array distances = info[2].As<Napi::Float32Array>();
    Napi::Int32Array labels = info[3].As<Napi::Int32Array>();
    if (distances.ElementLength() < k * nq || labels.ElementLength() < k * nq)
    {
      Napi::Error::New(env, "The output arrays are shorter than n*k.").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    static thread_local std::vector<idx_t> found;
    found.resize(k * nq);
    try
    {
      index_->search(nq, xq, k, distances.Data(), found.data());
    }
    catch (const faiss::FaissException &ex)
    {
      Napi::Error::New(env, ex.what()).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    int32_t *out = labels.Data();
    for (size_t i = 0; i < k * nq; i++) out[i] = static_cast<int32_t>(found[i]);
    return env.Undefined();
  }

  // searchFloat32 on a libuv worker thread, answered by a Promise: the event loop serves other
  // requests while faiss searches (a search service's one query a call would otherwise hold the loop
  // for the whole search). The query is copied (n*d floats); the JS index object is referenced until
  // the search ends, so it cannot be collected under it. Concurrent searches of one index are safe
  // (faiss's search is const); adding to or training an index while a search is in flight is not.
  class SearchWorker : public Napi::AsyncWorker
  {
  public:
    SearchWorker(Napi::Env env, Napi::Object owner, faiss::Index *index, const float *xq, size_t nq, idx_t k, int threads)
        : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), owner_(Napi::Persistent(owner)), index_(index),
          queries_(xq, xq + nq * index->d), nq_(nq), k_(k), threads_(threads), distances_(nq * k), labels_(nq * k) {}

    Napi::Promise Promise() { return deferred_.Promise(); }

    void Execute() override
    {
      // OpenMP's thread count is a per-thread setting: the worker thread takes the one set on the loop's.
      omp_set_num_threads(threads_);
      try
      {
        index_->search(nq_, queries_.data(), k_, distances_.data(), labels_.data());
      }
      catch (const std::exception &ex)
      {
        SetError(ex.what());
      }
    }

    void OnOK() override
    {
      Napi::Env env = Env();
      Napi::Float32Array distances = Napi::Float32Array::New(env, distances_.size());
      std::copy(distances_.begin(), distances_.end(), distances.Data());
      Napi::Int32Array labels = Napi::Int32Array::New(env, labels_.size());
      for (size_t i = 0; i < labels_.size(); i++) labels.Data()[i] = static_cast<int32_t>(labels_[i]);
      Napi::Object results = Napi::Object::New(env);
      results.Set("distances", distances);
      results.Set("labels", labels);
      deferred_.Resolve(results);
    }

    void OnError(const Napi::Error &error) override { deferred_.Reject(error.Value()); }

  private:
    Napi::Promise::Deferred deferred_;
    Napi::ObjectReference owner_;
    faiss::Index *index_;
    std::vector<float> queries_;
    size_t nq_;
    idx_t k_;
    int threads_;
    std::vector<float> distances_;
    std::vector<idx_t> labels_;
  };

  Napi::Value searchAsync(const Napi::CallbackInfo &info)
  {
    Napi::Env env = info.Env();
    float *xq;
    size_t nq;
    uint32_t k;
    if (!searchArgs(info, 2, "Expected (queries: Float32Array, k: number).", &xq, &nq, &k)) return env.Undefined();
    SearchWorker *worker = new SearchWorker(env, info.This().As<Napi::Object>(), index_.get(), xq, nq, k, omp_get_max_threads());
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  }

  Napi::Value addFloat32(const Napi::CallbackInfo &info)
  {
    Napi::Env env = info.Env();
    float *x;
    size_t n;
    if (!float32Arg(info, 0, &x, &n)) return env.Undefined();
    if (index_->ntotal + n > 2147483647)
    {
      Napi::Error::New(env, "an index of more than 2^31 - 1 vectors is not supported (labels are int32)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    try
    {
      index_->add(n, x);
    }
    catch (const faiss::FaissException &ex)
    {
      Napi::Error::New(env, ex.what()).ThrowAsJavaScriptException();
    }
    return env.Undefined();
  }

  Napi::Value trainFloat32(const Napi::CallbackInfo &info)
  {
    Napi::Env env = info.Env();
    float *x;
    size_t n;
    if (!float32Arg(info, 0, &x, &n)) return env.Undefined();
    try
    {
      index_->train(n, x);
    }
    catch (const faiss::FaissException &ex)
    {
      Napi::Error::New(env, ex.what()).ThrowAsJavaScriptException();
    }
    return env.Undefined();
  }
`;
// And faiss's OpenMP thread count (omp_set_num_threads / omp_get_max_threads, as python3-faiss has
// them): a service answering one query a call on a busy machine is faster with one thread (a team of
// threads per query spins against the other work), a batch build with all of them.
const OMP_FUNCTIONS = `
#include <omp.h>
Napi::Value SetOmpThreads(const Napi::CallbackInfo &info)
{
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsNumber() || info[0].As<Napi::Number>().Int32Value() < 1)
  {
    Napi::TypeError::New(env, "Expected a thread count >= 1.").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  omp_set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return env.Undefined();
}

Napi::Value GetOmpThreads(const Napi::CallbackInfo &info)
{
  return Napi::Number::New(info.Env(), omp_get_max_threads());
}

Napi::Object Init(Napi::Env env, Napi::Object exports)
{
  exports.Set("setOmpThreads", Napi::Function::New(env, SetOmpThreads));
  exports.Set("getOmpThreads", Napi::Function::New(env, GetOmpThreads));`;
const METHOD = `
  Napi::Value setSearchParameter(const Napi::CallbackInfo &info)
  {
    Napi::Env env = info.Env();
    if (info.Length() != 2 || !info[0].IsString() || !info[1].IsNumber())
    {
      Napi::TypeError::New(env, "Expected (name: string, value: number).").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    try
    {
      faiss::ParameterSpace().set_index_parameter(index_.get(), info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::Number>().DoubleValue());
    }
    catch (const faiss::FaissException &ex)
    {
      Napi::Error::New(env, ex.what()).ThrowAsJavaScriptException();
    }
    return env.Undefined();
  }

  Napi::Value ntotal(const Napi::CallbackInfo &info)`;
const REGISTER_FLOAT32 = (name) =>
  [
    `      InstanceMethod("toBuffer", &${name}::toBuffer),`,
    `      InstanceMethod("searchFloat32", &${name}::searchFloat32),`,
    `      InstanceMethod("searchInto", &${name}::searchInto),`,
    `      InstanceMethod("searchAsync", &${name}::searchAsync),`,
    `      InstanceMethod("addFloat32", &${name}::addFloat32),`,
    `      InstanceMethod("trainFloat32", &${name}::trainFloat32),`,
  ].join('\n');
let source = readFileSync(path.join(packageDir, 'src', 'faiss.cc'), 'utf8');
const patches = [
  ['#include <faiss/index_factory.h>', '#include <faiss/index_factory.h>\n#include <faiss/AutoTune.h>'],
  ['#include <faiss/index_factory.h>', '#include <faiss/index_factory.h>\n#include <vector>\n#include <algorithm>\n#include <omp.h>'],
  ['  Napi::Value ntotal(const Napi::CallbackInfo &info)', FLOAT32_METHODS + METHOD],
  // The typed-array methods on every class (Index, IndexFlatL2, IndexFlatIP); setSearchParameter on Index.
  ['      InstanceMethod("toBuffer", &IndexFlatIP::toBuffer),', REGISTER_FLOAT32('IndexFlatIP')],
  ['      InstanceMethod("toBuffer", &IndexFlatL2::toBuffer),', REGISTER_FLOAT32('IndexFlatL2')],
  [
    '      InstanceMethod("toBuffer", &Index::toBuffer),',
    `${REGISTER_FLOAT32('Index')}\n      InstanceMethod("setSearchParameter", &Index::setSearchParameter),`,
  ],
  ['Napi::Object Init(Napi::Env env, Napi::Object exports)\n{', OMP_FUNCTIONS],
];
for (const [anchor, replacement] of patches) {
  if (!source.includes(anchor)) {
    say(`faiss-node's source changed: '${anchor.trim()}' not found; update scripts/build-faiss.mjs`);
    process.exit(1);
  }
  source = source.replace(anchor, replacement);
}
const patched = path.join(path.dirname(target), 'faiss-patched.cc');
writeFileSync(patched, source);
const started = Date.now();
execFileSync(
  'g++',
  [
    '-O2',
    '-std=c++17',
    '-shared',
    '-fPIC',
    '-fopenmp',
    '-DNAPI_VERSION=6',
    '-DNAPI_CPP_EXCEPTIONS',
    '-include',
    compat,
    `-I${nodeHeaders}`,
    `-I${addonApi}`,
    patched,
    '-o',
    target,
    // -llapack -lblas resolve to OpenBLAS through Debian's alternatives (without them: undefined sgemm_).
    '-Wl,--no-as-needed',
    '-lfaiss',
    '-llapack',
    '-lblas',
  ],
  { stdio: ['ignore', 'inherit', 'inherit'] },
);
if (!loads()) {
  say(`built ${target}, but it does not load`);
  process.exit(1);
}
say(`built ${target} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
