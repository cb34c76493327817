// Audio and video that play while they download (and while they upload):
// decrypted chunks are appended to a MediaSource as they become available.
import { useEffect, useRef, useState } from "preact/hooks";
import { useChat } from "../context";
import type { Attachment } from "../content";
import { RemoteFile } from "./download";
import { streamType } from "./mediaType";
import { joinCoWatch } from "./cowatch";

function appended(buffer: SourceBuffer): Promise<void> {
  return new Promise((resolve, reject) => {
    buffer.addEventListener("updateend", () => resolve(), { once: true });
    buffer.addEventListener("error", () => reject(new Error("the media could not be decoded")), { once: true });
  });
}

export function MediaPlayer({ roomId, file }: { roomId: string; file: Attachment }) {
  const chat = useChat();
  const media = useRef<HTMLVideoElement & HTMLAudioElement>(null);
  const [loaded, setLoaded] = useState(0);
  const [state, setState] = useState<"loading" | "streaming" | "complete" | "failed">("loading");
  const [error, setError] = useState<string | null>(null);
  const [together, setTogether] = useState(false);

  useEffect(() => {
    if (!together || !media.current) return;
    return joinCoWatch(chat, roomId, file.file_id, media.current);
  }, [together, file.file_id]);

  useEffect(() => {
    const element = media.current;
    if (!element) return;
    const remote = new RemoteFile(chat, file);
    const source = new MediaSource();
    const url = URL.createObjectURL(source);
    element.src = url;
    let stopped = false;
    const run = async () => {
      await new Promise((resolve) => source.addEventListener("sourceopen", resolve, { once: true }));
      const count = await remote.chunkCount();
      const first = await remote.chunk(0);
      if (!first || stopped) return;
      const type = streamType(file.mime, first);
      if (!type || !MediaSource.isTypeSupported(type)) throw new Error(`cannot stream ${file.mime}`);
      const buffer = source.addSourceBuffer(type);
      setState("streaming");
      let chunk: Uint8Array | null = first;
      for (let index = 0; index < count; index++) {
        if (index > 0) chunk = await remote.chunk(index);
        if (!chunk || stopped) return;
        const done = appended(buffer);
        buffer.appendBuffer(chunk as BufferSource);
        await done;
        setLoaded(index + 1);
      }
      source.endOfStream();
      setState("complete");
    };
    run().catch((caught: unknown) => {
      if (stopped) return;
      setState("failed");
      setError(caught instanceof Error ? caught.message : "playback failed");
    });
    return () => {
      stopped = true;
      remote.close();
      URL.revokeObjectURL(url);
    };
  }, [file.file_id]);

  const isVideo = file.mime.startsWith("video/");
  return (
    <div class="media" data-testid="media" data-state={state} data-chunks={loaded}>
      {isVideo ? (
        <video ref={media} controls playsInline data-testid="media-video" data-file-id={file.file_id} />
      ) : (
        <audio ref={media} controls data-testid="media-audio" data-file-id={file.file_id} />
      )}
      <button class="link" onClick={() => setTogether(!together)} data-testid="cowatch-toggle" data-on={String(together)}>
        {together ? "Watching together (leave)" : "Watch together"}
      </button>
      {error && <p class="error">{error}</p>}
    </div>
  );
}
