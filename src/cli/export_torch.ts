// `kiln export-torch`: prints a model as a self-contained PyTorch file (src/io/torch_export.ts),
// the way out to PyTorch's tooling (multi-GPU training with torchrun and DDP, among others).
import { basename } from 'node:path';
import { ConfigError } from '../errors.ts';
import { torchExport } from '../io/torch_export.ts';
import { isPreset, loadModel, num, parse } from './options.ts';

export const EXPORT_TORCH_HELP = `export-torch options (prints Python on stdout):
  --model <cae|classifier|spec.json>  model (default cae)
  --classes N               a classifier preset's class count (default 10; a model trained on the
                            embedded sample has 6)`;

export function exportTorch(argv: string[]): number {
  const a = parse(argv, { model: { type: 'string' }, classes: { type: 'string' } });
  let classes: number | undefined;
  if (a.classes !== undefined) {
    if (!isPreset(a.model) || loadModel(a.model).target !== 'label') {
      throw new ConfigError('--classes applies to a classifier preset only (a spec file fixes its own outputs)');
    }
    classes = num(a.classes, '--classes', 0, { int: true, min: 1 });
  }
  const model = loadModel(a.model, classes);
  process.stdout.write(torchExport(model, isPreset(a.model) ? a.model ?? 'cae' : basename(a.model!)));
  return 0;
}
