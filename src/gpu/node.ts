// Node's WebGPU: Dawn from the `webgpu` package. On a Linux machine with no GPU device node, Dawn is
// pointed at the SwiftShader Vulkan driver that Debian's chromium package ships, so the same code
// runs on a laptop GPU, a datacenter GPU, or a bare CI box — and says which one it got.
import { existsSync, readdirSync } from 'node:fs';
import { create, globals } from 'webgpu';
import { GpuError } from '../errors.ts';
import { openDevice, type DeviceOptions, type Gpu, type Waiter } from './device.ts';

const SWIFTSHADER_ICDS = ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib/chromium-browser/vk_swiftshader_icd.json'];

function hasGpuDeviceNode(): boolean {
  if (existsSync('/dev/nvidia0') || existsSync('/dev/dxg')) return true;
  try {
    return readdirSync('/dev/dri').some((f) => f.startsWith('renderD'));
  } catch {
    return false;
  }
}

/**
 * Decides the Vulkan driver before Dawn first loads (the loader reads the variable once). An explicit
 * VK_ICD_FILENAMES wins; KILN_ADAPTER=swiftshader forces the software driver.
 */
function chooseVulkanDriver(): string | undefined {
  if (process.platform !== 'linux' || process.env.VK_ICD_FILENAMES) return undefined;
  if (process.env.KILN_ADAPTER !== 'swiftshader' && hasGpuDeviceNode()) return undefined;
  const icd = SWIFTSHADER_ICDS.find((p) => existsSync(p));
  if (!icd) {
    throw new GpuError('No GPU device and no SwiftShader Vulkan driver found. Install Debian\'s `chromium` and ' +
      '`libvulkan1` (apt-get install -y chromium libvulkan1), or run on a machine with a GPU.');
  }
  process.env.VK_ICD_FILENAMES = icd;
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  return icd;
}

/**
 * Dawn resolves promises by polling; a plain `await` spins the main thread at 100 %, stealing a core
 * from SwiftShader's worker threads. Sleeping ~1 ms per event-loop turn while something is pending
 * gives that core back (measured: a GEMM went from 6.0 to 9.4 GFLOP/s on 2 cores).
 */
const sleeper = new Int32Array(new SharedArrayBuffer(4));
let pending = 0;
let timer: ReturnType<typeof setInterval> | undefined;
export const nodeWait: Waiter = async (p) => {
  if (pending++ === 0) timer = setInterval(() => Atomics.wait(sleeper, 0, 0, 1), 0);
  try {
    return await p;
  } finally {
    if (--pending === 0) clearInterval(timer);
  }
};

// The Vulkan loader reads VK_ICD_FILENAMES when Dawn's first instance is created, not when the
// module loads, so choosing the driver just before create() is early enough.
// The GPU instance must stay referenced for as long as any device lives: if it is collected, later
// awaits crash at random inside Dawn. One per process, created lazily.
let instance: GPU | undefined;

export async function openNodeDevice(options: DeviceOptions = {}): Promise<Gpu> {
  if (!instance) {
    chooseVulkanDriver();
    Object.assign(globalThis, globals); // GPUBufferUsage, GPUMapMode, ... as in a browser
    instance = create([]);
  }
  // A GPU is there but Vulkan offered nothing: name what the driver needs, rather than SwiftShader.
  const help = !process.env.VK_ICD_FILENAMES?.includes('swiftshader') && hasGpuDeviceNode()
    ? 'A GPU device node exists, but Vulkan offered no adapter. NVIDIA\'s Vulkan driver needs the loader (libvulkan1), ' +
      'its ICD file (nvidia_icd.json under /usr/share/vulkan/icd.d) and, headless, glvnd\'s libEGL.so.1 ' +
      '(apt-get install -y libvulkan1 libegl1); VK_LOADER_DEBUG=error says which is missing. KILN_ADAPTER=swiftshader ' +
      'uses the software adapter instead.'
    : undefined;
  return openDevice(instance, { ...options, limits: { ...envLimits(), ...options.limits } }, nodeWait, help);
}

/**
 * KILN_DEVICE_LIMITS='{"maxStorageBufferBindingSize": 1048576}' lowers the limits a process asks
 * for: the fault-injection tests use it to make limit errors happen at small sizes.
 */
function envLimits(): Record<string, number> {
  const raw = process.env.KILN_DEVICE_LIMITS;
  if (!raw) return {};
  try {
    const v = JSON.parse(raw) as unknown;
    if (typeof v === 'object' && v !== null && Object.values(v).every((x) => typeof x === 'number')) return v as Record<string, number>;
  } catch { /* reported below */ }
  throw new GpuError(`KILN_DEVICE_LIMITS must be a JSON object of numbers, got ${raw}`);
}
