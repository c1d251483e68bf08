// Preact renders, htm writes its markup: every value in ${...} is a text node or a property,
// never parsed as HTML, so what a user or a receiver wrote is shown as text.
import { Component, Fragment, h, render } from "./preact-11.2.0.mjs";
import htm from "./htm-3.1.1.mjs";

export const html = htm.bind(h);
export { Component, Fragment, render };
