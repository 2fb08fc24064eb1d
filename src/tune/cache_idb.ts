// The tuning cache in a browser: IndexedDB database "kiln", object store "tune", one record per
// adapter signature. Unavailable storage (private mode, quota) means tuning again, never an error.
import type { AdapterChoices, TuneCache } from './cache.ts';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open('kiln', 1);
    req.onupgradeneeded = () => req.result.createObjectStore('tune');
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

export function indexedDbCache(): TuneCache {
  return {
    where: 'IndexedDB kiln/tune',
    load: async (adapter) => {
      try {
        const db = await open();
        const v = await request(db.transaction('tune').objectStore('tune').get(adapter)) as AdapterChoices | undefined;
        db.close();
        return { ...(v ?? {}) };
      } catch {
        return {};
      }
    },
    save: async (adapter, choices) => {
      try {
        const db = await open();
        await request(db.transaction('tune', 'readwrite').objectStore('tune').put(choices, adapter));
        db.close();
      } catch { /* next session tunes again */ }
    },
  };
}
