// Reading an image folder the ImageFolder way (one subfolder per class, images anywhere below it)
// from what the browser hands over: a dropped directory (the File and Directory Entries API, which
// also sees empty subfolders) or a <input webkitdirectory> pick (files with relative paths). Only
// the grouping happens here; decoding and resizing run in the worker.

export interface ClassFiles { name: string; files: File[]; names: string[] }
export interface Folder { name: string; classes: ClassFiles[]; ignored: number }

/** Hidden and system files (".DS_Store", "Thumbs.db") are not images and not worth a complaint. */
const ignorable = (name: string) => name.startsWith('.') || /^(thumbs\.db|desktop\.ini)$/i.test(name);

function sorted(map: Map<string, ClassFiles>): ClassFiles[] {
  // Class order is the sorted subfolder names, as torchvision's ImageFolder assigns labels.
  return [...map.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((c) => {
    const order = c.names.map((_, i) => i).sort((a, b) => (c.names[a]! < c.names[b]! ? -1 : 1));
    return { name: c.name, files: order.map((i) => c.files[i]!), names: order.map((i) => c.names[i]!) };
  });
}

/** Groups the files of a webkitdirectory pick by their first subfolder below the picked folder. */
export function fromFileList(list: FileList | File[]): Folder {
  const files = [...list];
  const classes = new Map<string, ClassFiles>();
  let root = 'folder', ignored = 0;
  for (const f of files) {
    const parts = (f.webkitRelativePath || f.name).split('/');
    root = parts[0] ?? root;
    if (parts.length < 3 || ignorable(parts[parts.length - 1]!)) { ignored++; continue; } // files beside the class folders
    const cls = parts[1]!;
    const c = classes.get(cls) ?? { name: cls, files: [], names: [] };
    classes.set(cls, c);
    c.files.push(f);
    c.names.push(parts.slice(1).join('/'));
  }
  return { name: root, classes: sorted(classes), ignored };
}

const readEntries = (dir: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> => new Promise((resolve, reject) => {
  const reader = dir.createReader();
  const all: FileSystemEntry[] = [];
  // readEntries returns at most ~100 entries per call: read until it returns none.
  const more = () => reader.readEntries((batch) => {
    if (batch.length === 0) resolve(all);
    else { all.push(...batch); more(); }
  }, reject);
  more();
});

const fileOf = (entry: FileSystemFileEntry): Promise<File> => new Promise((resolve, reject) => entry.file(resolve, reject));

async function walk(dir: FileSystemDirectoryEntry, prefix: string, out: { file: File; path: string }[]): Promise<void> {
  for (const e of await readEntries(dir)) {
    if (e.isDirectory) await walk(e as FileSystemDirectoryEntry, `${prefix}${e.name}/`, out);
    else if (!ignorable(e.name)) out.push({ file: await fileOf(e as FileSystemFileEntry), path: `${prefix}${e.name}` });
  }
}

/** The dropped directory, if the drop holds exactly one (undefined for plain files). */
export function droppedDirectory(dt: DataTransfer): FileSystemDirectoryEntry | undefined {
  const items = [...dt.items].filter((i) => i.kind === 'file');
  if (items.length !== 1) return undefined;
  const entry = items[0]!.webkitGetAsEntry?.();
  return entry?.isDirectory ? (entry as FileSystemDirectoryEntry) : undefined;
}

/** Reads a dropped directory: each subfolder is a class, empty ones included (they are refused by name later). */
export async function fromDirectory(root: FileSystemDirectoryEntry): Promise<Folder> {
  const classes = new Map<string, ClassFiles>();
  let ignored = 0;
  for (const e of await readEntries(root)) {
    if (!e.isDirectory) { ignored++; continue; }
    const found: { file: File; path: string }[] = [];
    await walk(e as FileSystemDirectoryEntry, `${e.name}/`, found);
    classes.set(e.name, { name: e.name, files: found.map((f) => f.file), names: found.map((f) => f.path) });
  }
  return { name: root.name, classes: sorted(classes), ignored };
}
