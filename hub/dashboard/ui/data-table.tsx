// A table in its focusable, named scroll box (scroll-box.tsx) with a header
// row of column headers: the shape every list on the pages shares. The rows
// are the caller's <tr>s.
import type { ComponentChildren } from "preact";
import { ScrollBox } from "./scroll-box.tsx";

export function DataTable({ label, columns, children }: { label: string; columns: string[]; children: ComponentChildren }) {
  return (
    <ScrollBox label={label}>
      <table>
        <thead>
          <tr>
            {columns.map((column) => (
              <th key={column} scope="col">
                {column}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </ScrollBox>
  );
}
