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
// Built by this script (not a stale binary): the patched method below is there.
const loads = () =>
  spawnSync(process.execPath, ['-e', "if (!require('faiss-node').Index.prototype.setSearchParameter) process.exit(1)"], { cwd: path.dirname(packageDir) }).status === 0;

if (existsSync(target) && loads()) process.exit(0);

// On Debian as root (a fresh machine, a CI runner, an image build) the missing system packages are
// installed here, so that `npm ci` alone gives a working checkout; MARKETPLACE_NO_APT=1 opts out.
// Elsewhere the script says what to install and leaves the system alone.
const SYSTEM_PACKAGES = ['libfaiss-dev', 'libopenblas0-pthread'];
const FAISS_HEADER = '/usr/include/faiss/Index.h'; // from libfaiss-dev
if (!existsSync(FAISS_HEADER) && process.getuid?.() === 0 && existsSync('/usr/bin/apt-get') && process.env.MARKETPLACE_NO_APT !== '1') {
  say(`installing Debian's ${SYSTEM_PACKAGES.join(' ')} (set MARKETPLACE_NO_APT=1 to skip)`);
  const apt = (...args) => spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;
  // A fresh machine may have no package lists yet: update once and retry.
  if (!apt('install', '-y', '-qq', ...SYSTEM_PACKAGES) && !(apt('update', '-qq') && apt('install', '-y', '-qq', ...SYSTEM_PACKAGES))) {
    say('apt-get could not install them');
  }
}
const nodeHeaders = [path.join(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'].find((dir) => existsSync(path.join(dir, 'node_api.h')));
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
let source = readFileSync(path.join(packageDir, 'src', 'faiss.cc'), 'utf8');
const patches = [
  ['#include <faiss/index_factory.h>', '#include <faiss/index_factory.h>\n#include <faiss/AutoTune.h>'],
  ['  Napi::Value ntotal(const Napi::CallbackInfo &info)', METHOD],
  ['      InstanceMethod("toBuffer", &Index::toBuffer),', '      InstanceMethod("toBuffer", &Index::toBuffer),\n      InstanceMethod("setSearchParameter", &Index::setSearchParameter),'],
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
    '-O2', '-std=c++17', '-shared', '-fPIC', '-fopenmp', '-DNAPI_VERSION=6', '-DNAPI_CPP_EXCEPTIONS',
    '-include', compat, `-I${nodeHeaders}`, `-I${addonApi}`,
    patched, '-o', target,
    // -llapack -lblas resolve to OpenBLAS through Debian's alternatives (without them: undefined sgemm_).
    '-Wl,--no-as-needed', '-lfaiss', '-llapack', '-lblas',
  ],
  { stdio: ['ignore', 'inherit', 'inherit'] },
);
if (!loads()) {
  say(`built ${target}, but it does not load`);
  process.exit(1);
}
say(`built ${target} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
