// The data layer on bytes the tests build: CIFAR-10 records with known labels and pixel layout,
// a tiny ustar writer + gzip for the archive path, temp folders for the Node loader, and the
// embedded sample that ships in data/. No network.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatCifar, parseCifarBatch, parseCifarTarGz, readTarGz, CIFAR_RECORD } from '../src/data/cifar.ts';
import { loadCifar, loadEmbeddedSample, loadEmbeddedSampleTest } from '../src/data/load_node.ts';
import { ConfigError, FormatError } from '../src/errors.ts';

/** Pixel value the test writes at (record, channel, y, x): distinct per plane and position. */
const px = (r: number, c: number, y: number, x: number) => (r * 31 + c * 80 + y * 7 + x) & 0xff;

function batch(labels: number[], first = 0): Uint8Array {
  const out = new Uint8Array(labels.length * CIFAR_RECORD);
  labels.forEach((label, i) => {
    const at = i * CIFAR_RECORD;
    out[at] = label;
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 32; y++)
        for (let x = 0; x < 32; x++) out[at + 1 + c * 1024 + y * 32 + x] = px(first + i, c, y, x);
  });
  return out;
}

/** Minimal ustar writer: regular files ('0'), folders ('5') and GNU long names ('L'). */
function tar(entries: { name: string; bytes?: Uint8Array; type?: string }[]): Uint8Array {
  const blocks: Uint8Array[] = [];
  const header = (name: string, size: number, type: string) => {
    const h = new Uint8Array(512);
    const put = (s: string, at: number) => h.set(new TextEncoder().encode(s), at);
    put(name.slice(0, 100), 0);
    put('0000644\0', 100);
    put('0000000\0', 108);
    put('0000000\0', 116);
    put(size.toString(8).padStart(11, '0') + '\0', 124);
    put('14712345670\0', 136);
    put(type, 156);
    put('ustar\0' + '00', 257);
    put('        ', 148);
    const sum = h.reduce((a, b) => a + b, 0);
    put(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    blocks.push(h);
  };
  const data = (b: Uint8Array) => {
    blocks.push(b, new Uint8Array((512 - (b.length % 512)) % 512));
  };
  for (const e of entries) {
    const bytes = e.bytes ?? new Uint8Array(0);
    if (e.name.length > 100) {
      const long = new TextEncoder().encode(e.name + '\0');
      header('././@LongLink', long.length, 'L');
      data(long);
    }
    header(e.name, bytes.length, e.type ?? '0');
    data(bytes);
  }
  blocks.push(new Uint8Array(1024));
  const out = new Uint8Array(blocks.reduce((a, b) => a + b.length, 0));
  let at = 0;
  for (const b of blocks) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** A web stream that hands out odd-sized chunks, to cross every header/record boundary. */
function streamOf(bytes: Uint8Array, chunk = 777): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(ctl) {
      if (at >= bytes.length) return ctl.close();
      ctl.enqueue(bytes.slice(at, at + chunk));
      at += chunk;
    },
  });
}

const DIR = 'cifar-10-batches-bin/';
const LONG = `${DIR}${'very-long-folder-name/'.repeat(6)}readme.html`;
const gz = (b: Uint8Array) => new Uint8Array(gzipSync(b)); // a plain copy: Buffer#slice is a view
const archive = gz(
  tar([
    { name: DIR, type: '5' },
    { name: `${DIR}batches.meta.txt`, bytes: new TextEncoder().encode('airplane\n') },
    { name: `${DIR}data_batch_2.bin`, bytes: batch([7, 8], 3) }, // out of order on purpose
    { name: `${DIR}data_batch_1.bin`, bytes: batch([3, 0, 9]) },
    { name: LONG, bytes: new TextEncoder().encode('<html>') },
    { name: `${DIR}test_batch.bin`, bytes: batch([1, 2, 3, 4]) },
  ]),
);

let tmp = '';
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'kiln-cifar-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('parseCifarBatch', () => {
  it('splits labels and keeps CHW pixel order', () => {
    const set = parseCifarBatch(batch([3, 0, 9]), 'b.bin');
    expect(set.count).toBe(3);
    expect([...set.labels]).toEqual([3, 0, 9]);
    expect(set.pixels.length).toBe(3 * 3072);
    for (const [r, c, y, x] of [[0, 0, 0, 0], [1, 1, 5, 31], [2, 2, 31, 17], [2, 0, 31, 31]] as const) {
      expect(set.pixels[r * 3072 + c * 1024 + y * 32 + x]).toBe(px(r, c, y, x));
    }
  });

  it('refuses a truncated file, naming file and byte count', () => {
    const bytes = batch(new Array(10).fill(1)).subarray(0, 30725);
    expect(() => parseCifarBatch(bytes, 'data_batch_1.bin')).toThrow(FormatError);
    expect(() => parseCifarBatch(bytes, 'data_batch_1.bin')).toThrow(
      'data_batch_1.bin: 30725 bytes is not a whole number of 3073-byte CIFAR-10 records',
    );
  });

  it('refuses an extra partial record and an empty file', () => {
    const bytes = new Uint8Array(30731);
    expect(() => parseCifarBatch(bytes, 'data_batch_1.bin')).toThrow(
      'data_batch_1.bin: 30731 bytes is not a whole number of 3073-byte CIFAR-10 records',
    );
    expect(() => parseCifarBatch(new Uint8Array(0), 'e.bin')).toThrow(/e\.bin: 0 bytes/);
  });

  it('refuses a label >= 10, naming file, record and label', () => {
    expect(() => parseCifarBatch(batch([1, 2, 10]), 'x.bin')).toThrow(FormatError);
    expect(() => parseCifarBatch(batch([1, 2, 10]), 'x.bin')).toThrow(/x\.bin: record 2 has label 10/);
  });

  it('concatCifar keeps order', () => {
    const all = concatCifar([parseCifarBatch(batch([3, 0, 9]), 'a'), parseCifarBatch(batch([7, 8], 3), 'b')], 'ab');
    expect(all.count).toBe(5);
    expect([...all.labels]).toEqual([3, 0, 9, 7, 8]);
    expect(all.pixels[4 * 3072 + 2 * 1024 + 3 * 32 + 4]).toBe(px(4, 2, 3, 4));
  });
});

describe('tar.gz', () => {
  it('readTarGz yields regular files, GNU long names, and reports progress', async () => {
    const seen: number[] = [];
    const names: string[] = [];
    for await (const f of readTarGz(streamOf(archive), 'a.tar.gz', (n) => seen.push(n))) names.push(f.name);
    expect(names).toEqual([
      `${DIR}batches.meta.txt`, `${DIR}data_batch_2.bin`, `${DIR}data_batch_1.bin`, LONG, `${DIR}test_batch.bin`,
    ]);
    expect(seen.at(-1)).toBe(archive.length);
  });

  it('parseCifarTarGz returns train (batches in order) and test', async () => {
    const { train, test } = await parseCifarTarGz(streamOf(archive, 333), 'cifar.tar.gz');
    expect(train.count).toBe(5);
    expect([...train.labels]).toEqual([3, 0, 9, 7, 8]);
    expect(train.pixels[3 * 3072 + 1 * 1024 + 31 * 32 + 2]).toBe(px(3, 1, 31, 2));
    expect(test?.count).toBe(4);
    expect([...test!.labels]).toEqual([1, 2, 3, 4]);
  });

  it('refuses a truncated archive, naming the source', async () => {
    const cut = archive.subarray(0, Math.floor(archive.length * 0.6));
    await expect(parseCifarTarGz(streamOf(cut), 'cut.tar.gz')).rejects.toThrow(FormatError);
    await expect(parseCifarTarGz(streamOf(cut), 'cut.tar.gz')).rejects.toThrow(/^cut\.tar\.gz: /);
  });

  it('refuses a corrupted archive and one without batches', async () => {
    const bad = archive.slice();
    bad[Math.floor(bad.length / 2)]! ^= 0x55;
    await expect(parseCifarTarGz(streamOf(bad), 'bad.tar.gz')).rejects.toThrow(/bad\.tar\.gz: /);
    const none = gz(tar([{ name: 'x/readme.txt', bytes: new Uint8Array(3) }]));
    await expect(parseCifarTarGz(streamOf(none), 'none.tar.gz')).rejects.toThrow(/no data_batch/);
  });
});

describe('loadCifar (Node)', () => {
  it('loads a single .bin batch', async () => {
    await writeFile(join(tmp, 'one.bin'), batch([5, 6]));
    const set = await loadCifar(join(tmp, 'one.bin'));
    expect([set.count, set.source, [...set.labels]]).toEqual([2, 'one.bin', [5, 6]]);
  });

  it('loads the extracted folder (present batches, in order), or its parent', async () => {
    const dir = join(tmp, 'ext', 'cifar-10-batches-bin');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'data_batch_2.bin'), batch([7, 8], 3));
    await writeFile(join(dir, 'data_batch_1.bin'), batch([3, 0, 9]));
    await writeFile(join(dir, 'test_batch.bin'), batch([1]));
    for (const p of [dir, join(tmp, 'ext')]) {
      const set = await loadCifar(p);
      expect([...set.labels]).toEqual([3, 0, 9, 7, 8]);
      expect(set.pixels[4 * 3072 + 1023]).toBe(px(4, 0, 31, 31));
    }
  });

  it('loads a .tar.gz as a stream', async () => {
    await writeFile(join(tmp, 'cifar-10-binary.tar.gz'), archive);
    const set = await loadCifar(join(tmp, 'cifar-10-binary.tar.gz'));
    expect([...set.labels]).toEqual([3, 0, 9, 7, 8]);
  });

  it('missing path and folder without batches are ConfigErrors naming the path', async () => {
    const missing = join(tmp, 'nope', 'data_batch_1.bin');
    await expect(loadCifar(missing)).rejects.toThrow(ConfigError);
    await expect(loadCifar(missing)).rejects.toThrow(missing);
    await mkdir(join(tmp, 'empty'));
    await expect(loadCifar(join(tmp, 'empty'))).rejects.toThrow(/empty: folder has no data_batch/);
  });
});

describe('scripts/fetch-cifar.mjs', () => {
  interface FetchCifar {
    unpackCifarArchive(p: string, o?: { extractTo?: string; requireAll?: boolean }): Promise<Record<string, number>>;
    download(url: string, dest: string, o?: { log?: (s: string) => void }): Promise<string>;
  }
  const script = '../scripts/fetch-cifar.mjs'; // plain JS for Node: imported untyped
  const load = async () => (await import(/* @vite-ignore */ script)) as FetchCifar;

  it('unpacks and verifies an archive; the extracted folder loads the same', async () => {
    const { unpackCifarArchive } = await load();
    const path = join(tmp, 'fetched.tar.gz');
    await writeFile(path, archive);
    await expect(unpackCifarArchive(path)).rejects.toThrow(/missing or not 10,000 records/);
    const out = join(tmp, 'unpacked');
    const found = await unpackCifarArchive(path, { extractTo: out, requireAll: false });
    expect(found).toEqual({ 'data_batch_1.bin': 3, 'data_batch_2.bin': 2, 'test_batch.bin': 4 });
    const set = await loadCifar(join(out, 'cifar-10-batches-bin'));
    expect([...set.labels]).toEqual([3, 0, 9, 7, 8]);
    expect(await readFile(join(out, 'cifar-10-batches-bin', 'test_batch.bin'))).toEqual(Buffer.from(batch([1, 2, 3, 4])));
  });

  it('refuses a truncated archive and reports an unreachable server clearly', async () => {
    const { unpackCifarArchive, download } = await load();
    const path = join(tmp, 'cut.tar.gz');
    await writeFile(path, archive.subarray(0, archive.length - 40));
    await expect(unpackCifarArchive(path, { requireAll: false })).rejects.toThrow(path);
    const dest = join(tmp, 'dl', 'cifar.tar.gz');
    await expect(download('http://127.0.0.1:1/cifar.tar.gz', dest)).rejects.toThrow(/could not reach .*offline/);
  });
});

describe('embedded sample', () => {
  it('loads with >= 2000 records, labels < 10 and sane pixel statistics', async () => {
    const set = await loadEmbeddedSample();
    expect(set.count).toBeGreaterThanOrEqual(2000);
    expect(set.labels.every((l) => l < 10)).toBe(true);
    expect(new Set(set.labels).size).toBeGreaterThan(1);
    let sum = 0;
    for (const v of set.pixels) sum += v;
    const mean = sum / set.pixels.length;
    expect(mean).toBeGreaterThan(40);
    expect(mean).toBeLessThan(215);
    const test = await loadEmbeddedSampleTest();
    expect(test.count).toBeGreaterThanOrEqual(200);
  });
});
