import { render } from "preact";

render(<main>CipherTalk</main>, document.getElementById("app")!);
