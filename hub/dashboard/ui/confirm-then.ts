// An admin action asked first (the browser's confirm): declined, nothing
// happens; agreed, `act` runs (an API write) and `settled` hears how it went
// (null when it worked, else the error's message), so the page can say so.
export async function confirmThen(question: string, act: () => Promise<unknown>, settled: (failure: string | null) => void): Promise<void> {
  if (!confirm(question)) return;
  try {
    await act();
  } catch (e) {
    settled((e as Error).message);
    return;
  }
  settled(null);
}
