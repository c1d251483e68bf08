// Pieces every view uses: a part that loads, a button that acts, forms read on submit, links.
import { Component, html } from "./html.js";

export const link = (...parts) => `#/${parts.map(encodeURIComponent).join("/")}`;

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function formValues(form) {
  const values = {};
  for (const [name, value] of new FormData(form)) if (String(value).trim() !== "") values[name] = String(value).trim();
  return values;
}

// A search form's values become the URL's, so a search can be pasted in a channel.
export function searchTo(path) {
  return (event) => {
    event.preventDefault();
    const search = new URLSearchParams(formValues(event.currentTarget)).toString();
    location.hash = `#/${path}${search ? `?${search}` : ""}`;
  };
}

export const text = (value) => (value === null || value === undefined || value === "" ? "—" : String(value));
export const json = (value) => JSON.stringify(value, null, 2);
export const percent = (part, whole) => (whole ? `${((100 * part) / whole).toFixed(1)} %` : "—");
export const ms = (value) => (value === null || value === undefined ? "—" : `${Math.round(value)} ms`);

export function Heading({ children }) {
  return html`<h1 tabindex="-1">${children}</h1>`;
}

export function Fields({ rows }) {
  return html`<dl class="fields">
    ${rows.map(([name, value]) => html`<div><dt>${name}</dt><dd>${value}</dd></div>`)}
  </dl>`;
}

export function Pre({ value, label }) {
  return html`<pre class="raw" tabindex="0" aria-label=${label}>${value}</pre>`;
}

export function Failure({ error }) {
  return html`<p class="error" role="alert">${error.message || String(error)}</p>`;
}

// Loads `load()` once and renders `view(data, reload)`; remounted (key) when the route changes.
export class Loaded extends Component {
  state = { data: undefined, error: null };

  componentDidMount() {
    this.reload();
  }

  reload = async () => {
    try {
      this.setState({ data: await this.props.load(), error: null });
    } catch (error) {
      this.setState({ error });
    }
  };

  render({ view }, { data, error }) {
    if (error) return html`<${Failure} error=${error} />`;
    if (data === undefined) return html`<p class="muted" role="status">Loading…</p>`;
    return view(data, this.reload);
  }
}

// A button that runs `run()`, says how it went, then calls `then(result)`.
export class Action extends Component {
  state = { busy: false, message: "", failed: false };

  click = async () => {
    this.setState({ busy: true, message: "" });
    try {
      const result = await this.props.run();
      this.setState({ busy: false, failed: false, message: this.props.done ? this.props.done(result) : "Done." });
      if (this.props.then) this.props.then(result);
    } catch (error) {
      this.setState({ busy: false, failed: true, message: error.message || String(error) });
    }
  };

  render({ label, kind = "button" }, { busy, message, failed }) {
    return html`<span class="action">
      <button type=${kind} onClick=${kind === "button" ? this.click : undefined} disabled=${busy}>${label}</button>
      <span role="status" class=${failed ? "error" : "ok"}>${message}</span>
    </span>`;
  }
}

// A form whose submit runs an action: its values are passed to `run(values)`.
export class ActionForm extends Component {
  state = { busy: false, message: "", failed: false };

  submit = async (event) => {
    event.preventDefault();
    const values = formValues(event.currentTarget);
    this.setState({ busy: true, message: "" });
    try {
      const result = await this.props.run(values);
      this.setState({ busy: false, failed: false, message: this.props.done ? this.props.done(result) : "Done." });
      if (this.props.then) this.props.then(result);
    } catch (error) {
      this.setState({ busy: false, failed: true, message: error.message || String(error) });
    }
  };

  render({ label, children, name }, { busy, message, failed }) {
    return html`<form class="inline" aria-label=${name || label} onSubmit=${this.submit}>
      ${children}
      <button type="submit" disabled=${busy}>${label}</button>
      <span role="status" class=${failed ? "error" : "ok"}>${message}</span>
    </form>`;
  }
}

export function Select({ label, name, value, options }) {
  return html`<label>${label}
    <select name=${name}>
      ${options.map(([v, t]) => html`<option value=${v} selected=${(value || "") === v}>${t}</option>`)}
    </select>
  </label>`;
}

export function Input({ label, name, value, type = "text", placeholder, size }) {
  return html`<label>${label}
    <input name=${name} type=${type} value=${value || ""} placeholder=${placeholder} size=${size} autocomplete="off" />
  </label>`;
}

export function NextPage({ path, params, cursor }) {
  if (!cursor) return null;
  const search = new URLSearchParams(params);
  search.set("cursor", cursor);
  return html`<p><a href=${`#/${path}?${search}`}>Next page</a></p>`;
}
