/** The sealed records of a key store database as IndexedDB holds them (what a disk copy would hold). */
export function rawRecords(dbName: string): Promise<Uint8Array[]> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(dbName);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const req = open.result.transaction("records", "readonly").objectStore("records").getAll();
      req.onerror = () => reject(req.error);
      req.onsuccess = () => {
        open.result.close();
        resolve(req.result as Uint8Array[]);
      };
    };
  });
}
