// A form's labelled text or number input bound to a string state: the label
// wraps the input (so it names it), typing sets the state.
interface FieldProps {
  label: string;
  value: string;
  set(value: string): void;
  type?: "number";
  min?: number;
  step?: string;
  required?: boolean;
  placeholder?: string;
}

export function Field({ label, value, set, type, ...input }: FieldProps) {
  const onInput = (e: { currentTarget: HTMLInputElement }) => set(e.currentTarget.value);
  return (
    <label>
      {label}
      {/* Two elements rather than type={type}: preact's input typings tell a number input from a text one by a literal type. */}
      {type === "number" ? <input type="number" {...input} value={value} onInput={onInput} /> : <input {...input} value={value} onInput={onInput} />}
    </label>
  );
}
