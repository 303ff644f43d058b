/** JSON text → value, or undefined when it is not JSON (the caller validates the value with its schema). */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
