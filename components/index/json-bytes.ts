/**
 * A JSON array as UTF-8 bytes, serialised a batch of items at a time: the same bytes as
 * `Buffer.from(JSON.stringify(items))`, without the one string of the whole array. V8 caps a string at
 * 2^29 - 24 characters (about 512 MiB): products.json of 10^6 listings (~400 bytes each) is near it,
 * and of 10^7 far beyond it ("Invalid string length"). A Buffer can hold several GiB.
 */
export function jsonArrayBytes(items: readonly unknown[], batch = 10_000): Buffer {
  if (items.length <= batch) return Buffer.from(JSON.stringify(items));
  const parts: Buffer[] = [Buffer.from('[')];
  for (let start = 0; start < items.length; start += batch) {
    const text = JSON.stringify(items.slice(start, start + batch));
    // The batch's own brackets off; batches joined by the comma JSON.stringify puts between items.
    parts.push(Buffer.from(`${start > 0 ? ',' : ''}${text.slice(1, -1)}`));
  }
  parts.push(Buffer.from(']'));
  return Buffer.concat(parts);
}
