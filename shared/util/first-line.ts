// An error message as one line of a table (the CLI's dead letter, the dashboard's panel):
// its first line, trimmed, cut at `max` characters with an ellipsis.
export function firstLine(message: string | undefined, max: number): string {
  const line = (message ?? '').split(/\r?\n/, 1)[0]!.trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
