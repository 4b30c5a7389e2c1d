/**
 * Where an offset of a text is, as a person reads it: line and column, both
 * from 1, columns in UTF-16 units. Shared by every file check that names a
 * place (the secrets file, the models file).
 */

/** A place in a text, both 1-based; columns in UTF-16 units. */
export interface LineColumn {
  line: number;
  column: number;
}

/** 1-based line and column (in UTF-16 units) of `offset`. */
export function lineColumn(source: string, offset: number): LineColumn {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (source.charCodeAt(i) === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** Line and column of many offsets in `source`, by binary search over line starts. */
export function lineLocator(source: string): (offset: number) => LineColumn {
  const starts = [0];
  for (let i = source.indexOf("\n"); i >= 0; i = source.indexOf("\n", i + 1)) {
    starts.push(i + 1);
  }
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo] + 1 };
  };
}
