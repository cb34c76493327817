// Small pieces every panel uses: the error line, the pager, a labelled field.

import { type ComponentChildren, h } from "preact";
import { useRef } from "preact/hooks";
import { ApiError } from "./api";

/**
 * Marks each load; `current(mark)` says whether it is still the latest, so
 * an answer that arrives after a newer request's is dropped.
 */
export function useLatest(): { mark(): number; current(mark: number): boolean } {
  const counter = useRef(0);
  return {
    mark: () => ++counter.current,
    current: (mark) => mark === counter.current,
  };
}

/** What a failed call says to the admin. */
export function problemText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 0) return err.message;
    return `${err.message} (${err.status} ${err.code})`;
  }
  return String(err);
}

export function Problem({ error }: { error: unknown }) {
  if (error === null || error === undefined) return null;
  return (
    <p class="problem" role="alert" data-testid="error">
      {problemText(error)}
    </p>
  );
}

export function Notice({ text }: { text: string | null }) {
  if (!text) return null;
  return (
    <p class="notice" role="status" data-testid="notice">
      {text}
    </p>
  );
}

export function Field({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <label class="field">
      <span>{label}</span>
      {children}
    </label>
  );
}

/**
 * Cursor paging: the first page, and the `next` of each page after. `pages`
 * holds the cursors of the pages seen, so "Previous" goes back without the
 * server knowing about backward cursors.
 */
export function Pager(props: {
  testid: string;
  pages: (string | undefined)[];
  next: string | null;
  onPage(pages: (string | undefined)[]): void;
}) {
  const { pages, next, onPage, testid } = props;
  return (
    <nav class="pager" data-testid={`${testid}-pager`}>
      <button
        type="button"
        data-testid={`${testid}-previous`}
        disabled={pages.length <= 1}
        onClick={() => onPage(pages.slice(0, -1))}
      >
        Previous page
      </button>
      <span data-testid={`${testid}-page`}>page {pages.length}</span>
      <button
        type="button"
        data-testid={`${testid}-next`}
        disabled={!next}
        onClick={() => next && onPage([...pages, next])}
      >
        Next page
      </button>
    </nav>
  );
}

interface InputProps {
  testid: string;
  value: string;
  onValue(value: string): void;
  type?: "text" | "email" | "password" | "datetime-local";
  required?: boolean;
  maxLength?: number;
  /** For datetime-local: "1" shows seconds. */
  step?: string;
  autocomplete?: string;
}

/** An `<input>` that hands its text to `onValue`. */
export function TextInput({ testid, onValue, ...props }: InputProps) {
  // createElement: the JSX input type is a union keyed by a literal `type`.
  return h("input", {
    ...props,
    "data-testid": testid,
    onInput: (e: Event) => onValue((e.currentTarget as HTMLInputElement).value),
  });
}

/** A `<select>` of `options` that hands the chosen one to `onValue`. */
export function Choice<T extends string>(props: {
  testid: string;
  value: T;
  options: readonly T[];
  onValue(value: T): void;
}) {
  return (
    <select
      data-testid={props.testid}
      value={props.value}
      onChange={(e) => props.onValue((e.currentTarget as HTMLSelectElement).value as T)}
    >
      {props.options.map((option) => (
        <option key={option} value={option}>
          {option}
        </option>
      ))}
    </select>
  );
}
