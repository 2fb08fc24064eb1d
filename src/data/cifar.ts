// CIFAR-10 binary format and its official .tar.gz archive, as plain bytes in, typed arrays out.
// No `fs` and no GPU here: the browser demo (File/fetch streams) and Node (load_node.ts) share it.
// The archive is read as a stream (DecompressionStream + a minimal ustar reader) so the 163 MB
// download never has to be held compressed and decompressed at once.
import { FormatError } from '../errors.ts';

export const CIFAR_SIDE = 32;
export const CIFAR_PIXELS = 3 * CIFAR_SIDE * CIFAR_SIDE; // 3,072: 1,024 R, then G, then B
export const CIFAR_RECORD = 1 + CIFAR_PIXELS; // 3,073: label byte + pixels
export const CIFAR_CLASSES = 10;
/** CIFAR-10's label names, by label byte (batches.meta.txt). */
export const CIFAR_CLASS_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] as const;

export interface CifarSet {
  count: number;
  labels: Uint8Array;
  /** count * 3,072 bytes; per record CHW: 1,024 R, 1,024 G, 1,024 B, each row-major 32x32. */
  pixels: Uint8Array;
  /** File or archive member it came from, for error messages and UI. */
  source: string;
  /** What each label byte means. */
  classNames?: readonly string[];
}

/** Split one CIFAR-10 batch (whole 3,073-byte records) into labels and pixels. */
export function parseCifarBatch(bytes: Uint8Array, source: string): CifarSet {
  const n = bytes.length;
  if (n === 0 || n % CIFAR_RECORD !== 0) {
    throw new FormatError(
      `${source}: ${n} bytes is not a whole number of ${CIFAR_RECORD}-byte CIFAR-10 records`,
    );
  }
  const count = n / CIFAR_RECORD;
  const labels = new Uint8Array(count);
  const pixels = new Uint8Array(count * CIFAR_PIXELS);
  for (let i = 0; i < count; i++) {
    const at = i * CIFAR_RECORD;
    const label = bytes[at]!;
    if (label >= CIFAR_CLASSES) {
      throw new FormatError(`${source}: record ${i} has label ${label}, expected 0..${CIFAR_CLASSES - 1}`);
    }
    labels[i] = label;
    pixels.set(bytes.subarray(at + 1, at + CIFAR_RECORD), i * CIFAR_PIXELS);
  }
  return { count, labels, pixels, source };
}

/** Join sets in order into one (e.g. data_batch_1..5 into the 50,000-image training set). */
export function concatCifar(sets: readonly CifarSet[], source: string): CifarSet {
  const count = sets.reduce((sum, s) => sum + s.count, 0);
  const labels = new Uint8Array(count);
  const pixels = new Uint8Array(count * CIFAR_PIXELS);
  let at = 0;
  for (const s of sets) {
    labels.set(s.labels, at);
    pixels.set(s.pixels, at * CIFAR_PIXELS);
    at += s.count;
  }
  return { count, labels, pixels, source };
}

export interface TarFile {
  /** Path inside the archive, e.g. `cifar-10-batches-bin/data_batch_1.bin`. */
  name: string;
  bytes: Uint8Array;
}

/** Called with the number of compressed bytes consumed so far (compare with Content-Length). */
export type ProgressFn = (compressedBytes: number) => void;

/** Pulls exact byte counts out of a chunked stream. */
class ByteReader {
  private chunks: Uint8Array[] = [];
  private head = 0; // offset into chunks[0]
  private buffered = 0;
  constructor(private reader: ReadableStreamDefaultReader<Uint8Array>) {}

  /** Exactly `n` bytes, or fewer only if the stream ended first. */
  async read(n: number): Promise<Uint8Array> {
    while (this.buffered < n) {
      const { done, value } = await this.reader.read();
      if (done) break;
      if (value.length > 0) {
        this.chunks.push(value);
        this.buffered += value.length;
      }
    }
    const out = new Uint8Array(Math.min(n, this.buffered));
    let filled = 0;
    while (filled < out.length) {
      const c = this.chunks[0]!;
      const take = Math.min(c.length - this.head, out.length - filled);
      out.set(c.subarray(this.head, this.head + take), filled);
      filled += take;
      this.head += take;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    this.buffered -= out.length;
    return out;
  }
}

const decoder = new TextDecoder();

function cString(b: Uint8Array, at: number, len: number): string {
  const field = b.subarray(at, at + len);
  const nul = field.indexOf(0);
  return decoder.decode(nul < 0 ? field : field.subarray(0, nul));
}

/** Octal (NUL/space padded) or GNU base-256 (high bit set) numeric field. */
function tarNumber(b: Uint8Array, at: number, len: number): number {
  if (b[at]! & 0x80) {
    let v = b[at]! & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + b[at + i]!;
    return v;
  }
  const s = cString(b, at, len).trim();
  return s === '' ? 0 : parseInt(s, 8);
}

/** The `path=` record of a PAX extended header, if any. */
function paxPath(data: Uint8Array): string | undefined {
  for (const line of decoder.decode(data).split('\n')) {
    const m = /^\d+ path=(.*)$/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * Stream the regular files out of a gzip-compressed ustar archive. GNU long names ('L') and
 * PAX `path` records are honoured; links, folders and other entries are skipped. Any
 * truncation or corruption (gzip, CRC, tar header checksum) is a FormatError naming `source`.
 */
export async function* readTarGz(
  stream: ReadableStream<Uint8Array>,
  source: string,
  onProgress?: ProgressFn,
): AsyncGenerator<TarFile> {
  let consumed = 0;
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, ctl) {
      consumed += chunk.length;
      onProgress?.(consumed);
      ctl.enqueue(chunk);
    },
  });
  // Cast: lib.dom types its output as Uint8Array<ArrayBuffer>, the counter's as ArrayBufferLike.
  const gunzip = new DecompressionStream('gzip') as unknown as ReadableWritablePair<Uint8Array, Uint8Array>;
  const reader = stream.pipeThrough(counter).pipeThrough(gunzip).getReader();
  const input = new ByteReader(reader);
  const bad = (why: string) => new FormatError(`${source}: ${why}`);
  const need = async (n: number, what: string): Promise<Uint8Array> => {
    const b = await input.read(n);
    if (b.length < n) throw bad(`archive truncated inside ${what}`);
    return b;
  };
  let finished = false;
  try {
    let longName: string | undefined;
    for (;;) {
      const header = await input.read(512);
      if (header.length === 0) break; // no end-of-archive blocks: tolerated, like GNU tar
      if (header.length < 512) throw bad('archive truncated inside a tar header');
      if (header.every((x) => x === 0)) break; // end-of-archive marker
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
      if (sum !== tarNumber(header, 148, 8)) throw bad('corrupt tar header (checksum mismatch)');
      const size = tarNumber(header, 124, 12);
      const type = String.fromCharCode(header[156]!);
      const prefix = cString(header, 345, 155);
      const name = longName ?? (prefix ? `${prefix}/${cString(header, 0, 100)}` : cString(header, 0, 100));
      longName = undefined;
      const data = await need(size, `"${name}"`);
      await need((512 - (size % 512)) % 512, `"${name}" padding`);
      if (type === 'L') longName = cString(data, 0, data.length);
      else if (type === 'x') longName = paxPath(data);
      else if (type === '0' || type === '\0' || type === '7') yield { name, bytes: data };
    }
    // Drain the rest so gzip verifies its CRC and length trailer.
    while ((await input.read(65536)).length > 0);
    finished = true;
  } catch (err) {
    if (err instanceof FormatError) throw err;
    throw bad(`corrupt or truncated gzip archive (${err instanceof Error ? err.message : String(err)})`);
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
  }
}

export interface CifarArchive {
  /** data_batch_1..5.bin in order (those present): 50,000 images in the official archive. */
  train: CifarSet;
  /** test_batch.bin, if present: 10,000 images in the official archive. */
  test: CifarSet | null;
}

/** Read the official `cifar-10-binary.tar.gz` (folder `cifar-10-batches-bin/`) from a stream. */
export async function parseCifarTarGz(
  stream: ReadableStream<Uint8Array>,
  source: string,
  onProgress?: ProgressFn,
): Promise<CifarArchive> {
  const batches = new Map<number, CifarSet>();
  let test: CifarSet | null = null;
  for await (const file of readTarGz(stream, source, onProgress)) {
    const base = file.name.slice(file.name.lastIndexOf('/') + 1);
    const m = /^data_batch_([1-5])\.bin$/.exec(base);
    if (m) batches.set(Number(m[1]), parseCifarBatch(file.bytes, `${source}:${file.name}`));
    else if (base === 'test_batch.bin') test = parseCifarBatch(file.bytes, `${source}:${file.name}`);
  }
  if (batches.size === 0) {
    throw new FormatError(`${source}: no data_batch_1..5.bin found; is this cifar-10-binary.tar.gz?`);
  }
  const ordered = [...batches.keys()].sort((a, b) => a - b).map((k) => batches.get(k)!);
  return { train: concatCifar(ordered, source), test };
}
