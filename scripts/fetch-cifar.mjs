#!/usr/bin/env node
// Download the official CIFAR-10 binary archive for full-size training runs (Kiln ships only a
// small embedded sample). Atomic: streams to a temp file, checks size + MD5 + contents, then
// renames, so an interrupted download never leaves a half file under the final name.
// Plain .mjs (Node 20 cannot import the .ts loader), so the unpack/verify step lives here and is
// exported for test/cifar.test.ts to exercise on an archive the test builds.
//
// Usage: node scripts/fetch-cifar.mjs [DEST(.tar.gz file or folder)] [--extract] [--force]
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createGunzip } from 'node:zlib';

export const CIFAR_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
export const CIFAR_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530'; // as published on the CIFAR page
export const CIFAR_BYTES = 170_052_171;
const RECORD = 3073;
const MEMBERS = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin',
  'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'];
const DEFAULT_DEST = fileURLToPath(new URL('../data/cifar-10-binary.tar.gz', import.meta.url));

/** Pull exact byte counts from an async iterable of Buffers. */
function byteReader(iterable) {
  const it = iterable[Symbol.asyncIterator]();
  let chunks = [];
  let buffered = 0;
  return async function read(n) {
    while (buffered < n) {
      const { done, value } = await it.next();
      if (done) break;
      chunks.push(value);
      buffered += value.length;
    }
    const all = Buffer.concat(chunks);
    const out = all.subarray(0, Math.min(n, all.length));
    chunks = [all.subarray(out.length)];
    buffered = all.length - out.length;
    return out;
  };
}

/**
 * Check a cifar-10-binary.tar.gz: gzip intact, CIFAR members whole records with labels < 10
 * (all six with 10,000 records each unless `requireAll` is false). With `extractTo`, writes the
 * members into `extractTo/cifar-10-batches-bin/` (by base name only: no path from the archive
 * is trusted). Returns { [baseName]: recordCount }. Throws Error naming `archivePath`.
 */
export async function unpackCifarArchive(archivePath, { extractTo, requireAll = true } = {}) {
  const fail = (why) => new Error(`${archivePath}: ${why}`);
  const gunzip = createGunzip();
  const feed = pipeline(createReadStream(archivePath), gunzip).catch((err) => err);
  const read = byteReader(gunzip);
  const found = {};
  const outDir = extractTo ? join(extractTo, 'cifar-10-batches-bin') : null;
  if (outDir) await mkdir(outDir, { recursive: true });
  try {
    let longName = null;
    for (;;) {
      const h = await read(512);
      if (h.length === 0 || h.every((b) => b === 0)) break;
      if (h.length < 512) throw fail('truncated tar header');
      const str = (at, len) => h.subarray(at, at + len).toString('latin1').replace(/\0.*$/s, '');
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
      if (sum !== parseInt(str(148, 8).trim(), 8)) throw fail('corrupt tar header');
      const size = parseInt(str(124, 12).trim() || '0', 8);
      const type = str(156, 1) || '0';
      const name = longName ?? (str(345, 155) ? `${str(345, 155)}/${str(0, 100)}` : str(0, 100));
      longName = null;
      const data = await read(size);
      const pad = (512 - (size % 512)) % 512;
      if (data.length < size || (await read(pad)).length < pad) throw fail(`truncated inside ${name}`);
      if (type === 'L') { longName = data.toString('utf8').replace(/\0.*$/s, ''); continue; }
      const base = name.slice(name.lastIndexOf('/') + 1);
      if ((type !== '0' && type !== '7') || !MEMBERS.includes(base)) continue;
      if (size === 0 || size % RECORD !== 0) throw fail(`${name}: ${size} bytes is not whole records`);
      for (let i = 0; i < size; i += RECORD) {
        if (data[i] >= 10) throw fail(`${name}: record ${i / RECORD} has label ${data[i]}`);
      }
      found[base] = size / RECORD;
      if (outDir) {
        const tmp = join(outDir, `.${base}.partial-${process.pid}`);
        await writeFile(tmp, data);
        await rename(tmp, join(outDir, base));
      }
    }
    while ((await read(65536)).length > 0); // drain: gzip checks its CRC at the very end
  } catch (err) {
    gunzip.destroy();
    throw err.message?.startsWith(archivePath) ? err : fail(`corrupt or truncated gzip (${err.message})`);
  }
  const feedErr = await feed;
  if (feedErr) throw fail(`corrupt or truncated gzip (${feedErr.message})`);
  if (Object.keys(found).length === 0) throw fail('no CIFAR-10 batches inside');
  if (requireAll) {
    for (const m of MEMBERS) if (found[m] !== 10000) throw fail(`${m} missing or not 10,000 records`);
  }
  return found;
}

/** Stream `url` to `dest` via a temp file; checks byte count and MD5 before the rename. */
export async function download(url, dest, { md5 = CIFAR_MD5, bytes = CIFAR_BYTES, log = console.error } = {}) {
  let res;
  try {
    res = await fetch(url);
  } catch (err) {
    const code = err.cause?.code ?? err.message;
    throw new Error(`could not reach ${url} (${code}). Are you offline? Download it by other means ` +
      `and place it at ${dest}; Kiln reads the .tar.gz directly.`);
  }
  if (!res.ok || !res.body) throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
  await mkdir(dirname(dest), { recursive: true });
  const tmp = `${dest}.partial-${process.pid}`;
  const hash = createHash('md5');
  const total = Number(res.headers.get('content-length')) || bytes;
  let got = 0;
  let lastPct = -1;
  const meter = new Transform({
    transform(chunk, _enc, done) {
      hash.update(chunk);
      got += chunk.length;
      const pct = Math.floor((100 * got) / total);
      if (pct !== lastPct && pct % 10 === 0) { lastPct = pct; log(`  ${pct}% (${(got / 1e6).toFixed(1)} MB)`); }
      done(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(res.body), meter, createWriteStream(tmp));
    if (bytes && got !== bytes) throw new Error(`${url}: got ${got} bytes, expected ${bytes} (interrupted?)`);
    const digest = hash.digest('hex');
    if (md5 && digest !== md5) throw new Error(`${url}: MD5 ${digest}, expected ${md5} (corrupt download)`);
    return tmp;
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

async function main(argv) {
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  const arg = argv.find((a) => !a.startsWith('--'));
  let dest = resolve(arg ?? DEFAULT_DEST);
  if (!/\.(tar\.gz|tgz)$/.test(dest)) dest = join(dest, 'cifar-10-binary.tar.gz');
  const exists = await stat(dest).then(() => true, () => false);
  if (exists && !flags.has('--force')) {
    console.error(`${dest} already present; verifying (use --force to download again)`);
  } else {
    console.error(`downloading ${CIFAR_URL}\n  -> ${dest}`);
    const tmp = await download(CIFAR_URL, dest);
    try {
      await unpackCifarArchive(tmp);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    await rename(tmp, dest);
  }
  const found = await unpackCifarArchive(dest, flags.has('--extract') ? { extractTo: dirname(dest) } : {});
  console.error(`ok: ${Object.entries(found).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(dest);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(`fetch-cifar: ${err.message}`);
    process.exit(1);
  });
}
