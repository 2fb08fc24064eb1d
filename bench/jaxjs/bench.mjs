#!/usr/bin/env node
// jax-js comparison for `kiln bench`: the seed's convolutional autoencoder trained with jax-js 0.1.25 on
// its WebGPU backend, on Dawn (the `webgpu` package) in Node, on synthetic data, the whole training
// step (forward, backward, Adam) under one `jit`. Prints ONE JSON line on stdout; everything else goes
// to stderr. Same CLI and output as bench/tfjs/bench.mjs.
//
//   node bench/jaxjs/bench.mjs [--batch 32] [--steps 20] [--warmup 3] [--wait throttled|spin] [--losses]
//
// The loss is read back only on the last warm-up step and the last timed step, like `kiln bench`.
// --losses reads it back after EVERY step and adds them all to the JSON (a correctness check, not a
//   speed measurement: each read waits for the GPU).
// --wait throttled (default): while a Dawn promise is pending, sleep ~1 ms per event-loop turn instead
//   of letting Node spin a core (see shared/WEBGPU-HEADLESS.md); --wait spin leaves Dawn as it is.
//
// Warm-up counts like `kiln bench`: the first warm-up step (tracing, kernel compiles) is one of the N.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

function fail(message) {
  process.stderr.write(`bench/jaxjs: ${message}\n`);
  process.exit(1);
}

const { values: a } = parseArgs({
  options: {
    batch: { type: 'string', default: '32' },
    steps: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    wait: { type: 'string', default: 'throttled' },
    losses: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (a.help) {
  process.stderr.write('usage: node bench/jaxjs/bench.mjs [--batch 32] [--steps 20] [--warmup 3] [--wait throttled|spin] [--losses]\n');
  process.exit(0);
}
function int(name, min) {
  const v = Number(a[name]);
  if (!Number.isInteger(v) || v < min) fail(`--${name} must be an integer >= ${min}, got ${JSON.stringify(a[name])}`);
  return v;
}
const batch = int('batch', 1);
const steps = int('steps', 1);
const warmup = int('warmup', 1);
if (!['throttled', 'spin'].includes(a.wait)) fail(`--wait must be throttled or spin, got ${a.wait}`);

// ---- Vulkan driver: as src/gpu/node.ts does. With no GPU device node, point Dawn at the SwiftShader
// ICD that Debian's chromium ships; an explicit VK_ICD_FILENAMES wins. Must happen before create().
const SWIFTSHADER_ICDS = ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib/chromium-browser/vk_swiftshader_icd.json'];
function hasGpuDeviceNode() {
  if (existsSync('/dev/nvidia0') || existsSync('/dev/dxg')) return true;
  try {
    return readdirSync('/dev/dri').some((f) => f.startsWith('renderD'));
  } catch {
    return false;
  }
}
if (process.platform === 'linux' && !process.env.VK_ICD_FILENAMES
  && (process.env.KILN_ADAPTER === 'swiftshader' || !hasGpuDeviceNode())) {
  const icd = SWIFTSHADER_ICDS.find((p) => existsSync(p));
  if (!icd) fail('no GPU device and no SwiftShader Vulkan driver found; apt-get install -y chromium libvulkan1');
  process.env.VK_ICD_FILENAMES = icd;
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
}

// ---- WebGPU globals from Dawn. `gpu` stays referenced for the whole run: if Dawn's instance is
// garbage-collected while a device lives, later awaits crash at random. jax-js reads
// navigator.userAgent (a browser check) and throws without one, so give it Node's.
const { create, globals } = await import('webgpu');
Object.assign(globalThis, globals);
const gpu = create([]);
if (typeof globalThis.navigator === 'undefined') globalThis.navigator = {};
try {
  Object.defineProperty(globalThis.navigator, 'gpu', { value: gpu, configurable: true });
  if (!globalThis.navigator.userAgent) Object.defineProperty(globalThis.navigator, 'userAgent', { value: `Node.js/${process.version}`, configurable: true });
} catch (e) {
  fail(`cannot install navigator.gpu: ${e?.message ?? e}`);
}
globalThis.__kilnBenchGpu = gpu;

// ---- Dawn wrappers, installed before jax-js opens its device:
// - requestAdapter: remember the adapter jax-js gets, to report which one ran;
// - createBuffer / destroy: count live GPU buffers, so a reference-count leak in the step shows up
//   (jax-js pools freed buffers, so a leak-free step creates none in steady state);
// - --wait throttled: Dawn resolves promises by polling from the event loop, so a pending mapAsync spins
//   the main thread at 100 % and takes a core from SwiftShader's workers. jax-js's awaits are its own,
//   so wrap the promise-returning Dawn methods: while any is pending, sleep ~1 ms per event-loop turn
//   (the same trick as Kiln's nodeWait).
let adapterUsed;
{
  const original = globals.GPU.prototype.requestAdapter;
  globals.GPU.prototype.requestAdapter = async function (...args) {
    const adapter = await original.apply(this, args);
    adapterUsed ??= adapter;
    return adapter;
  };
}
let liveBuffers = 0;
{
  const createBuffer = globals.GPUDevice.prototype.createBuffer;
  globals.GPUDevice.prototype.createBuffer = function (...args) {
    const buffer = createBuffer.apply(this, args);
    liveBuffers++;
    return buffer;
  };
  const destroyed = new WeakSet();
  const destroy = globals.GPUBuffer.prototype.destroy;
  globals.GPUBuffer.prototype.destroy = function (...args) {
    if (!destroyed.has(this)) { destroyed.add(this); liveBuffers--; }
    return destroy.apply(this, args);
  };
}
if (a.wait === 'throttled') {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  let pending = 0;
  let timer;
  const throttled = async (p) => {
    if (pending++ === 0) timer = setInterval(() => Atomics.wait(sleeper, 0, 0, 1), 0);
    try {
      return await p;
    } finally {
      if (--pending === 0) clearInterval(timer);
    }
  };
  const wrap = (cls, names) => {
    for (const name of names) {
      const original = cls?.prototype?.[name];
      if (typeof original !== 'function') continue;
      cls.prototype[name] = function (...args) { return throttled(original.apply(this, args)); };
    }
  };
  wrap(globals.GPU, ['requestAdapter']);
  wrap(globals.GPUAdapter, ['requestDevice']);
  wrap(globals.GPUBuffer, ['mapAsync']);
  wrap(globals.GPUQueue, ['onSubmittedWorkDone']);
  wrap(globals.GPUDevice, ['popErrorScope', 'createComputePipelineAsync', 'createRenderPipelineAsync']);
  wrap(globals.GPUShaderModule, ['getCompilationInfo']);
}

// ---- jax-js on WebGPU, and nothing else: its default device is Wasm (CPU), so a missing adapter
// would otherwise run the whole benchmark on the CPU without a word.
const jax = await import('@jax-js/jax');
const { numpy: np, lax, nn, tree, jit, valueAndGrad } = jax;
const jaxVersion = JSON.parse(readFileSync(new URL('./node_modules/@jax-js/jax/package.json', import.meta.url), 'utf8')).version;
let available;
try {
  available = await jax.init('webgpu');
} catch (e) {
  fail(`jax-js init('webgpu') threw: ${e?.message ?? e}`);
}
if (!available.includes('webgpu')) {
  fail(`no WebGPU adapter for jax-js (backends available: ${available.join(', ')}); refusing to benchmark a CPU fallback.`);
}
jax.defaultDevice('webgpu');
const device = jax.getWebGPUDevice();
if (!device) fail('jax-js has no GPUDevice');

// Adapter name in Kiln's format (src/gpu/device.ts describeAdapter): "arch (vendor, description)".
function describeAdapter(info) {
  if (!info) return 'unknown';
  const parts = [info.vendor, info.description || info.device].filter((s) => s && s.length > 0);
  const arch = info.architecture || 'unknown';
  return parts.length > 0 ? `${arch} (${parts.join(', ')})` : arch;
}
const adapter = describeAdapter(device.adapterInfo ?? adapterUsed?.info);
process.stderr.write(`bench/jaxjs: jax-js ${jaxVersion}, backend webgpu, adapter ${adapter}\n`);

// ---- The seed's CAE (src/nn/spec.ts CAE_SPEC), NCHW as in PyTorch. Parameters in the seed's order
// and names, PyTorch's default init (uniform ±1/√fan_in for weight and bias; fan_in from weight.size(1),
// which is the OUTPUT channels for ConvTranspose2d) drawn as Kiln's initParams does (mulberry32,
// seed 0 ^ 0x5eed) — so the values equal `kiln train --seed 0`'s. 7,347 parameters.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const H = 32, W = 32, C = 3;
const SHAPES = [
  ['conv1.0.weight', [16, 3, 3, 3]], ['conv1.0.bias', [16]],
  ['conv2.0.weight', [32, 16, 3, 3]], ['conv2.0.bias', [32]],
  ['transconv1.0.weight', [32, 16, 2, 2]], ['transconv1.0.bias', [16]],
  ['transconv2.0.weight', [16, 3, 2, 2]], ['transconv2.0.bias', [3]],
];
const initRng = rng(0 ^ 0x5eed);
const params = {};
let paramCount = 0;
for (let i = 0; i < SHAPES.length; i += 2) {
  const w = SHAPES[i][1];
  const bound = 1 / Math.sqrt(w[1] * w[2] * w[3]);
  for (const [name, shape] of [SHAPES[i], SHAPES[i + 1]]) {
    const n = shape.reduce((x, y) => x * y, 1);
    paramCount += n;
    params[name] = np.array(Float32Array.from({ length: n }, () => (2 * initRng() - 1) * bound)).reshape(shape);
  }
}
if (paramCount !== 7347) fail(`model has ${paramCount} parameters, expected 7347`);

const bias = (b) => b.reshape([1, b.shape[0], 1, 1]);
/** Conv2d, stride 1, padding 1 (cross-correlation, as PyTorch). */
const conv3x3 = (x, w, b) => lax.convGeneralDilated(x, w, [1, 1], [[1, 1], [1, 1]]).add(bias(b));
/** MaxPool2d(2, 2). */
const maxpool2 = (x) => lax.reduceWindow(x, (win) => np.max(win), [2, 2], [2, 2]);
/**
 * ConvTranspose2d with kernel 2, stride 2, padding 0, weight [C_in, C_out, 2, 2]: the windows don't
 * overlap, so y[n, o, 2i+a, 2j+b] = Σ_c x[n, c, i, j]·w[c, o, a, b] + bias[o] — a tensordot over the
 * input channels, then a reshape/transpose into the 2×-upsampled grid. Exact, and it avoids jax-js
 * 0.1.25's lax.convTranspose, which gives wrong results on WebGPU (shared/WEBGPU-HEADLESS.md).
 */
function convT2x2(x, w, b) {
  const [n, , h, wd] = x.shape;
  const o = w.shape[1];
  return np.tensordot(x, w, [[1], [0]]) // [N, H, W, O, 2, 2]
    .transpose([0, 3, 1, 4, 2, 5]) // [N, O, H, 2, W, 2]
    .reshape([n, o, 2 * h, 2 * wd])
    .add(bias(b));
}
function forward(p, x) {
  let h = maxpool2(nn.selu(conv3x3(x, p['conv1.0.weight'], p['conv1.0.bias'])));
  h = maxpool2(nn.selu(conv3x3(h, p['conv2.0.weight'], p['conv2.0.bias'])));
  h = nn.relu(convT2x2(h, p['transconv1.0.weight'], p['transconv1.0.bias']));
  return nn.sigmoid(convT2x2(h, p['transconv2.0.weight'], p['transconv2.0.bias']));
}
// jax-js functions take ownership of their arguments (reference counting): `.ref` keeps a second use.
const mseLoss = (p, x) => np.square(forward(p, x.ref).sub(x)).mean();

// ---- Adam, PyTorch's defaults and update order (torch.optim.Adam, foreach=False): m ← β1·m + (1−β1)·g,
// v ← β2·v + (1−β2)·g², p ← p − (lr / (1−β1ᵗ))·m / (√v / √(1−β2ᵗ) + ε). The two bias corrections
// are computed in float64 on the host and passed in as scalars, so the traced step never changes.
const LR = 1e-3, B1 = 0.9, B2 = 0.999, EPS = 1e-8;
const trainStep = jit((p, m, v, x, stepSize, sqrtBc2) => {
  const [loss, g] = valueAndGrad(mseLoss)(tree.ref(p), x);
  const p1 = {}, m1 = {}, v1 = {};
  for (const k of Object.keys(p)) {
    const gk = g[k];
    m1[k] = m[k].mul(B1).add(gk.ref.mul(1 - B1));
    v1[k] = v[k].mul(B2).add(gk.ref.mul(gk).mul(1 - B2));
    const denom = np.sqrt(v1[k].ref).div(sqrtBc2.ref).add(EPS);
    p1[k] = p[k].sub(m1[k].ref.mul(stepSize.ref).div(denom));
  }
  stepSize.dispose();
  sqrtBc2.dispose();
  return [loss, p1, m1, v1];
});

// ---- Synthetic data, as `kiln bench`: max(batch, 256) random 8-bit images (mulberry32 seed 1) scaled
// to [0, 1], resident on the GPU, split into whole batches once; the steps cycle through them in order.
const size = C * H * W;
const count = Math.max(batch, 256);
const pixelRng = rng(1);
const pixels = Uint8Array.from({ length: count * size }, () => Math.floor(pixelRng() * 256));
const nBatches = Math.max(1, Math.floor(count / batch));
const batches = [];
for (let b = 0; b < nBatches; b++) {
  const px = new Float32Array(batch * size);
  for (let i = 0; i < px.length; i++) px[i] = pixels[b * batch * size + i] / 255;
  batches.push(np.array(px).reshape([batch, C, H, W]));
}

let state = {
  p: params,
  m: tree.map((x) => np.zerosLike(x.ref), params),
  v: tree.map((x) => np.zerosLike(x.ref), params),
};
let t = 0;
const losses = [];
/**
 * One training step. jax-js is lazy: a jit call only records its kernels, and they are submitted when
 * an output is realized — so the loss is always realized here. Reading it (`data()`) waits for the
 * GPU; `gpuBuffer()` submits the step's work without waiting, which keeps the queue moving as
 * `kiln bench` does (left unrealized, every step's buffers would stay alive until the last read).
 */
async function step(read) {
  t++;
  const stepSize = np.array(LR / (1 - B1 ** t));
  const sqrtBc2 = np.array(Math.sqrt(1 - B2 ** t));
  const [loss, p, m, v] = trainStep(state.p, state.m, state.v, batches[(t - 1) % nBatches].ref, stepSize, sqrtBc2);
  state = { p, m, v };
  if (loss.device !== 'webgpu') fail(`the step ran on ${loss.device}, not webgpu`);
  if (read || a.losses) {
    const value = (await loss.data())[0];
    if (a.losses) losses.push(value);
    return value;
  }
  await loss.gpuBuffer();
  return NaN;
}

const t0 = performance.now();
let warmLoss = await step(true);
const compileMs = performance.now() - t0;
for (let i = 1; i < warmup; i++) {
  const loss = await step(i === warmup - 1); // drain the warm-up before the clock starts
  if (i === warmup - 1) warmLoss = loss;
}

const buffersBefore = liveBuffers;
const t1 = performance.now();
let last = NaN;
for (let i = 0; i < steps; i++) {
  const loss = await step(i === steps - 1);
  if (i === steps - 1) last = loss;
}
const seconds = (performance.now() - t1) / 1000;
if (!Number.isFinite(last)) fail(`final loss is ${last}`);

const result = {
  system: `jaxjs-${jaxVersion}-webgpu`,
  images_per_s: (steps * batch) / seconds,
  ms_per_step: (1000 * seconds) / steps,
  batch,
  steps,
  adapter,
  mode: a.losses ? 'jit, loss read every step' : 'jit',
  wait: a.wait,
  warmup,
  compile_ms: compileMs,
  loss_after_warmup: warmLoss,
  loss: last,
  params: paramCount,
  jaxjs: jaxVersion,
  backend: 'webgpu',
  buffers_leaked_per_step: (liveBuffers - buffersBefore) / steps,
  ...(a.losses ? { losses } : {}),
};
process.stdout.write(`${JSON.stringify(result)}\n`);

// Dawn keeps the event loop alive while a device exists: close what we opened and exit.
tree.dispose(state);
for (const x of batches) x.dispose();
trainStep.dispose();
try { device.destroy(); } catch { /* already gone */ }
process.exit(0);
