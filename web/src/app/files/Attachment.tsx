// A file in a message: upload progress for the sender, then an image preview,
// a streaming player, or a download link.
import { useEffect, useState } from "preact/hooks";
import { useChat } from "../context";
import type { Attachment as File_ } from "../content";
import { useObservable } from "../store";
import { RemoteFile } from "./download";
import { isStreamable } from "./mediaType";
import { MediaPlayer } from "./MediaPlayer";
import { transfers } from "./transfers";

function Progress({ done, total, label }: { done: number; total: number; label: string }) {
  return (
    <div class="progress" data-testid="transfer-progress" data-done={done} data-total={total}>
      <progress max={total} value={done} />
      <span class="muted">{label} {Math.floor((done / Math.max(total, 1)) * 100)}%</span>
    </div>
  );
}

function ImagePreview({ file }: { file: File_ }) {
  const chat = useChat();
  const [url, setUrl] = useState<string | null>(null);
  const [done, setDone] = useState(0);
  useEffect(() => {
    const remote = new RemoteFile(chat, file);
    let objectUrl: string | null = null;
    remote.all(setDone).then((blob) => {
      objectUrl = URL.createObjectURL(blob);
      setUrl(objectUrl);
    }).catch(() => undefined);
    return () => {
      remote.close();
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [file.file_id]);
  if (!url) return <Progress done={done} total={file.size} label="Loading" />;
  return <img class="preview" src={url} alt={file.name} data-testid="image-preview" />;
}

function Download({ file }: { file: File_ }) {
  const chat = useChat();
  const [done, setDone] = useState<number | null>(null);
  const save = async () => {
    const remote = new RemoteFile(chat, file);
    setDone(0);
    try {
      const blob = await remote.all(setDone);
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = file.name;
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    } finally {
      remote.close();
      setDone(null);
    }
  };
  return (
    <div class="download">
      <button onClick={() => void save()} data-testid="file-download">{file.name} ({Math.ceil(file.size / 1024)} KiB)</button>
      {done !== null && <Progress done={done} total={file.size} label="Downloading" />}
    </div>
  );
}

export function Attachment({ roomId, file }: { roomId: string; file: File_ }) {
  const transfer = useObservable(transfers)[file.file_id];
  const uploading = transfer?.direction === "up" && transfer.done < transfer.total;
  return (
    <div
      class="attachment"
      data-testid="attachment"
      data-file-id={file.file_id}
      data-upload={transfer?.direction !== "up" ? "none" : transfer.completed ? "completed" : transfer.failed ? "failed" : "uploading"}
    >
      {uploading && <Progress done={transfer.done} total={transfer.total} label="Sending" />}
      {transfer?.failed && <p class="error">{transfer.failed}</p>}
      {file.mime.startsWith("image/") ? (
        uploading && transfer.localUrl ? <img class="preview" src={transfer.localUrl} alt={file.name} /> : <ImagePreview file={file} />
      ) : isStreamable(file.mime) ? (
        <MediaPlayer roomId={roomId} file={file} />
      ) : (
        <Download file={file} />
      )}
    </div>
  );
}
