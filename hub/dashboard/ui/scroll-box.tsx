// A wide table's horizontal scroller (phones): focusable and named, so a
// keyboard can scroll it too (axe: scrollable-region-focusable).
import type { ComponentChildren } from "preact";

export function ScrollBox({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={label}>
      {children}
    </div>
  );
}
