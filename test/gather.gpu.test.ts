// The batch gather against a plain reference: records picked through the order list (wrapping
// around it), bytes scaled into the data range, labels copied. Each record size takes its entry:
// bytes one at a time (main), four per invocation (main4, sizes a multiple of 4), sixteen (main16,
// a multiple of 16: CIFAR's 3072), each within the usual tolerance of the reference.
import { describe, expect, it } from 'vitest';
import { gatherPass, type GatherArgs } from '../src/ops/gather.ts';
import { rangeScale, type DataRange } from '../src/data/range.ts';
import { mulberry32 } from './reference/tensor.ts';
import { empty, expectClose, gpu, readback, readbackInt, run, scoped, upload } from './gpu.ts';

describe('batch gather', () => {
  for (const [recordSize, entry] of [[7, 'main'], [12, 'main4'], [48, 'main16'], [3072, 'main16']] as const) {
    for (const range of ['0,1', '-1,1'] as DataRange[]) {
      it(`records of ${recordSize} bytes take ${entry} and equal the reference (range ${range})`, async () => {
        const g = await gpu();
        await scoped(g, async () => {
          const records = 5, batch = 3;
          const rnd = mulberry32(recordSize);
          const bytes = Uint8Array.from({ length: records * recordSize }, () => Math.floor(rnd() * 256));
          bytes[0] = 255; // both ends of the byte range
          bytes[1] = 0;
          const labels = [4, 0, 9, 2, 7];
          const order = [3, 1, 4, 0, 2];
          const padded = new Uint8Array(Math.ceil(bytes.length / 16) * 16);
          padded.set(bytes);
          const pixels = g.device.createBuffer({ label: 'pixels', size: padded.length, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
          g.device.queue.writeBuffer(pixels, 0, padded);
          const io = {
            pixels, order: upload(g, order, 'order', true), labels: upload(g, labels, 'labels', true),
            x: empty(g, batch * recordSize, 'x'), y_labels: empty(g, batch, 'y_labels'),
          };
          const args: GatherArgs = { batch, recordSize, orderLength: order.length, range };
          const ds = gatherPass.variants[0]!.build(g.device, args, io, 'gather');
          expect(ds.map((d) => d.kernel.label)).toEqual([`gather.${entry}`]);
          const { divisor, shift } = rangeScale(range);
          // Positions 0..2 and then 4, 0, 1: the second batch wraps around the order list.
          for (const base of [0, 4]) {
            gatherPass.perStep!(g.device, ds, args, { step: 1, batchBase: base, lossSlot: 0, rows: batch, tracked: 1 });
            await run(g, ds);
            const x = await readback(g, io.x, batch * recordSize);
            const want = new Float32Array(batch * recordSize);
            const wantLabels: number[] = [];
            for (let b = 0; b < batch; b++) {
              const r = order[(base + b) % order.length]!;
              wantLabels.push(labels[r]!);
              for (let i = 0; i < recordSize; i++) want[b * recordSize + i] = Math.fround(Math.fround(bytes[r * recordSize + i]! / divisor) + shift);
            }
            expectClose(x, want, `gather of ${recordSize}-byte records from position ${base}`); // a GPU's f32 division may be off by an ulp
            expect(Array.from(await readbackInt(g, io.y_labels, batch))).toEqual(wantLabels);
          }
        });
      });
    }
  }
});
