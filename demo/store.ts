// Checkpoints kept in the browser's Origin Private File System: one slot, the checkpoint bytes
// (kiln-demo/checkpoint.ckpt) and a small JSON note of what it belongs to (mode, settings, data,
// step), so a reload can offer to continue. createWritable writes to a swap file that replaces the
// old one only on close, so a failed write (quota) leaves the previous checkpoint intact.

export interface StoredMeta {
  mode: string;
  settings: { lr: number; batch: number; pairing: string };
  /** The data's label as the page shows it; a checkpoint is only offered for data with the same label. */
  data: string;
  step: number;
  epoch: number;
  savedAt: number;
  bytes: number;
}

const DIR = 'kiln-demo';
const CKPT = 'checkpoint.ckpt';
const META = 'checkpoint.json';

export class StoreError extends Error {
  override name = 'StoreError';
}

/** Explains a storage failure in one line (quota first: the one a user can act on). */
function explain(e: unknown, what: string): StoreError {
  const name = e instanceof DOMException ? e.name : e instanceof Error ? e.name : '';
  const msg = e instanceof Error ? e.message : String(e);
  if (name === 'QuotaExceededError') {
    return new StoreError(`${what}: this site's storage quota is used up (QuotaExceededError). Free some space, or download checkpoints instead`);
  }
  return new StoreError(`${what}: ${name ? `${name}: ` : ''}${msg}`);
}

async function dir(): Promise<FileSystemDirectoryHandle> {
  if (!navigator.storage?.getDirectory) throw new StoreError('this browser has no Origin Private File System');
  return (await navigator.storage.getDirectory()).getDirectoryHandle(DIR, { create: true });
}

async function write(d: FileSystemDirectoryHandle, name: string, data: Uint8Array | string): Promise<void> {
  const handle = await d.getFileHandle(name, { create: true });
  const w = await handle.createWritable();
  try {
    await w.write(data as FileSystemWriteChunkType);
    await w.close();
  } catch (e) {
    await w.abort().catch(() => {});
    throw e;
  }
}

/** Saves a checkpoint and its note (the note last, so it never describes bytes that were not written). */
export async function saveCheckpoint(bytes: Uint8Array, meta: Omit<StoredMeta, 'savedAt' | 'bytes'>): Promise<StoredMeta> {
  const full: StoredMeta = { ...meta, savedAt: Date.now(), bytes: bytes.length };
  try {
    const d = await dir();
    await write(d, CKPT, bytes);
    await write(d, META, JSON.stringify(full));
  } catch (e) {
    throw explain(e, 'Could not save the checkpoint in this browser');
  }
  return full;
}

/** The stored note, undefined when there is none; a note that cannot be read is an error naming why. */
export async function storedMeta(): Promise<StoredMeta | undefined> {
  let text: string;
  try {
    const d = await dir();
    const h = await d.getFileHandle(META).catch(() => undefined);
    if (!h) return undefined;
    text = await (await h.getFile()).text();
  } catch (e) {
    throw explain(e, 'Could not read the stored checkpoint');
  }
  try {
    const m = JSON.parse(text) as StoredMeta;
    if (typeof m.step !== 'number' || typeof m.mode !== 'string' || typeof m.data !== 'string' || !m.settings) throw new Error('fields missing');
    return m;
  } catch (e) {
    throw new StoreError(`The stored checkpoint's note is corrupt (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** The stored checkpoint's bytes (checked against the note's size; the worker checks the rest when it restores). */
export async function storedCheckpoint(meta: StoredMeta): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    const file = await (await (await dir()).getFileHandle(CKPT)).getFile();
    bytes = new Uint8Array(await file.arrayBuffer());
  } catch (e) {
    throw explain(e, 'Could not read the stored checkpoint');
  }
  if (bytes.length !== meta.bytes) {
    throw new StoreError(`The stored checkpoint is corrupt: ${bytes.length} bytes where ${meta.bytes} were saved`);
  }
  return bytes;
}

/** Forgets the stored checkpoint. */
export async function clearStored(): Promise<void> {
  try {
    const root = await navigator.storage.getDirectory();
    await root.removeEntry(DIR, { recursive: true });
  } catch { /* nothing stored */ }
}
