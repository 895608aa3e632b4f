// A list's filter form (a search landmark; filters apply as they change, so
// submitting does nothing) and its "any or one of these" select.
import type { ComponentChildren } from "preact";

export function Filters({ children }: { children: ComponentChildren }) {
  return (
    <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
      {children}
    </form>
  );
}

/** `label`'s select: "any" (the empty string) or one of `choices`. */
export function ChoiceFilter({ label, choices, value, choose }: { label: string; choices: string[]; value: string; choose(value: string): void }) {
  return (
    <label>
      {label}
      <select value={value} onChange={(e) => choose(e.currentTarget.value)}>
        <option value="">any</option>
        {choices.map((choice) => (
          <option key={choice} value={choice}>
            {choice}
          </option>
        ))}
      </select>
    </label>
  );
}
