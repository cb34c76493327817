// The local camera and microphone; without them (denied, none), a drawn
// video track so a call still connects and shows something.
export async function localMedia(): Promise<MediaStream> {
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  } catch {
    return placeholderStream();
  }
}

function placeholderStream(): MediaStream {
  const canvas = document.createElement("canvas");
  canvas.width = 160;
  canvas.height = 120;
  const context = canvas.getContext("2d");
  let frame = 0;
  const draw = () => {
    if (!context) return;
    context.fillStyle = `hsl(${frame++ % 360} 60% 40%)`;
    context.fillRect(0, 0, canvas.width, canvas.height);
  };
  draw();
  const timer = setInterval(draw, 100);
  const stream = canvas.captureStream(10);
  stream.getVideoTracks()[0]?.addEventListener("ended", () => clearInterval(timer));
  return stream;
}
