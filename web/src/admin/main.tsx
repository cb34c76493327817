import { render } from "preact";

render(<main>CipherTalk admin</main>, document.getElementById("admin")!);
