// Progress of uploads and downloads, by file id, for the progress bars.
import { Observable } from "../store";

export interface Transfer {
  direction: "up" | "down";
  done: number;
  total: number;
  /** A local object URL of the file being sent (image previews before upload ends). */
  localUrl?: string;
  failed?: string;
  /** The upload is complete (every chunk stored, the server told). */
  completed?: boolean;
}

export const transfers = new Observable<Record<string, Transfer>>({});

export function setTransfer(fileId: string, transfer: Transfer): void {
  transfers.update((all) => ({ ...all, [fileId]: transfer }));
}

export function patchTransfer(fileId: string, patch: Partial<Transfer>): void {
  transfers.update((all) => {
    const current = all[fileId];
    return current ? { ...all, [fileId]: { ...current, ...patch } } : all;
  });
}
