// A form's JSON payload started from an example per type (decision-
// examples.ts, work-examples.ts): choosing a type puts its example in the
// textarea; the textarea is described by the line naming the type's fields
// and by the problem (bad JSON, or the hub's error) shown under it.
import { useState } from "preact/hooks";

export type Examples = Record<string, { payload: Record<string, unknown>; fields: string }>;

export interface ExamplePayload {
  examples: Examples;
  /** The chosen type (a key of `examples`). */
  name: string;
  choose(name: string): void;
  text: string;
  setText(text: string): void;
  problem: string | null;
  setProblem(problem: string | null): void;
  /** The payload the text holds, or null after saying why it is not JSON. */
  parse(): Record<string, unknown> | null;
}

const pretty = (payload: Record<string, unknown>) => JSON.stringify(payload, null, 2);

export function useExamplePayload(examples: Examples, first: string): ExamplePayload {
  const [name, setName] = useState(first);
  const [text, setText] = useState(() => pretty(examples[first]!.payload));
  const [problem, setProblem] = useState<string | null>(null);
  return {
    examples,
    name,
    choose(next) {
      setName(next);
      setText(pretty(examples[next]!.payload));
      setProblem(null);
    },
    text,
    setText,
    problem,
    setProblem,
    parse() {
      try {
        return JSON.parse(text);
      } catch (e) {
        setProblem(`payload is not JSON: ${(e as Error).message}`);
        return null;
      }
    },
  };
}

/** The select of the example types, labelled `label`. */
export function ExampleSelect({ label, form }: { label: string; form: ExamplePayload }) {
  return (
    <label>
      {label}
      <select value={form.name} onChange={(e) => form.choose(e.currentTarget.value)}>
        {Object.keys(form.examples).map((name) => (
          <option key={name}>{name}</option>
        ))}
      </select>
    </label>
  );
}

/** The payload textarea, its fields line (`<id>-fields`) and its problem (`<id>-problem`, an alert). */
export function PayloadField({ id, rows, form }: { id: string; rows: number; form: ExamplePayload }) {
  return (
    <>
      <label class="wide">
        Payload (JSON)
        <textarea rows={rows} value={form.text} onInput={(e) => form.setText(e.currentTarget.value)} aria-describedby={`${id}-fields ${id}-problem`} />
      </label>
      <p id={`${id}-fields`} class="hint wide">
        {form.name} takes: {form.examples[form.name]?.fields}
      </p>
      <p id={`${id}-problem`} role="alert" class="error">
        {form.problem}
      </p>
    </>
  );
}
