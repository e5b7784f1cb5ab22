// The console's entry: styles, the theme (before the first paint), the app.
import { render } from "preact";
import "./styles.css";
import "./theme";
import { App } from "./app";

render(<App />, document.getElementById("app")!);
