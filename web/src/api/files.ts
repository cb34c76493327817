// Encrypted files: declare, PUT sealed chunks to their signed URLs, complete;
// read back chunk by chunk (what is stored so far, for playback while uploading).
import type { Http } from "./http";
import type { FileCreate, FileCreated, FileInfo, Uuid } from "./types";

export class FilesApi {
  constructor(private readonly http: Http) {}

  create(file: FileCreate): Promise<FileCreated> {
    return this.http.request("POST", "/v1/files", { body: file });
  }

  async putChunk(uploadUrl: string, sealed: Uint8Array): Promise<void> {
    await this.http.raw("PUT", uploadUrl, {
      body: sealed as BodyInit,
      headers: { "content-type": "application/octet-stream" },
    });
  }

  complete(fileId: Uuid): Promise<unknown> {
    return this.http.request("POST", `/v1/files/${fileId}/complete`);
  }

  renewUploadUrls(fileId: Uuid): Promise<FileCreated> {
    return this.http.request("POST", `/v1/files/${fileId}/upload-urls`);
  }

  get(fileId: Uuid): Promise<FileInfo> {
    return this.http.request("GET", `/v1/files/${fileId}`);
  }

  async getChunk(downloadUrl: string): Promise<Uint8Array> {
    const response = await this.http.raw("GET", downloadUrl);
    return new Uint8Array(await response.arrayBuffer());
  }

  delete(fileId: Uuid): Promise<void> {
    return this.http.request("DELETE", `/v1/files/${fileId}`);
  }
}
