/** A flat HGETALL-style reply ([field, value, ...], as scripts return one) → object; anything else → {}. */
export function pairsToHash(reply: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  return out;
}
