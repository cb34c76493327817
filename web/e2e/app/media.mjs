// Test media made with ffmpeg (Debian's), cached between runs.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const CACHE = process.env.CIPHERTALK_MEDIA_CACHE ?? join(tmpdir(), "ciphertalk-e2e-media");
export const MIB = 1024 * 1024;

function ffmpeg(args) {
  try {
    execFileSync("ffmpeg", ["-y", "-loglevel", "error", ...args], { stdio: "inherit" });
  } catch (error) {
    if (error?.code === "ENOENT") throw new Error("ffmpeg is missing (Debian's ffmpeg package): it makes the test video");
    throw error;
  }
}

/** A VP8 WebM of at least `minBytes` (noisy frames keep the bitrate up). */
export function testVideo(minBytes = 20 * MIB) {
  mkdirSync(CACHE, { recursive: true });
  const path = join(CACHE, `video-${minBytes}.webm`);
  if (existsSync(path) && statSync(path).size >= minBytes) return path;
  // 6 Mbit/s of noise: 30 s gives about 21 MiB; longer when the encoder falls short.
  for (const seconds of [32, 45, 60]) {
    ffmpeg([
      "-f", "lavfi", "-i", `testsrc=s=480x270:r=25:d=${seconds}`,
      "-vf", "noise=alls=60:allf=t",
      "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8",
      "-b:v", "6M", "-minrate", "6M", "-maxrate", "6M", "-an", path,
    ]);
    if (statSync(path).size >= minBytes) return path;
  }
  throw new Error(`could not make a video of ${minBytes} bytes`);
}

/** A small PNG picture. */
export function testImage() {
  mkdirSync(CACHE, { recursive: true });
  const path = join(CACHE, "picture.png");
  if (!existsSync(path)) ffmpeg(["-f", "lavfi", "-i", "testsrc=s=320x200:d=1", "-frames:v", "1", path]);
  return path;
}
