import { describe, expect, it } from 'vitest';
import { formatTrace, parseTrace } from './trace.ts';

const header = '{"days": 10, "provider": "aws"}';
const ok = '{"key": "a", "size": 2048, "created_day": 2, "reads": [[2, 1], [5, 3]]}';

describe('trace parser', () => {
  it('reads a well-formed trace and writes it back unchanged', () => {
    const t = parseTrace(`${header}\n${ok}\n{"key":"b","size":0,"created_day":0,"reads":[]}\n`);
    expect(t.days).toBe(10);
    expect(t.objects.map((o) => o.key)).toEqual(['a', 'b']);
    expect(t.objects[0]!.reads).toEqual([[2, 1], [5, 3]]);
    expect(parseTrace(formatTrace(t))).toEqual(t);
  });

  it('refuses malformed lines, naming the line', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /line 1: empty trace/],
      ['{"days": 0, "provider": "aws"}', /line 1: "days" must be an integer ≥ 1/],
      ['{"days": 10, "provider": "ibm"}', /line 1: "provider" must be one of/],
      [`${header}\n{"key": "a", "size": 1`, /line 2: not valid JSON/],
      [`${header}\n[1, 2]`, /line 2: must be an object/],
      [`${header}\n{"key": "", "size": 1, "created_day": 0, "reads": []}`, /line 2: "key" must be a non-empty string/],
      [`${header}\n{"key": "a", "size": -1, "created_day": 0, "reads": []}`, /line 2: "size" must be an integer ≥ 0/],
      [`${header}\n{"key": "a", "size": 1.5, "created_day": 0, "reads": []}`, /line 2: "size"/],
      [`${header}\n{"key": "a", "size": 1, "created_day": 10, "reads": []}`, /line 2: "created_day" must be an integer in 0\.\.9/],
      [`${header}\n{"key": "a", "size": 1, "created_day": 3, "reads": [[2, 1]]}`, /line 2: reads\[0\]: day must be an integer in 3\.\.9/],
      [`${header}\n{"key": "a", "size": 1, "created_day": 0, "reads": [[10, 1]]}`, /line 2: reads\[0\]: day must be/],
      [`${header}\n{"key": "a", "size": 1, "created_day": 0, "reads": [[4, 1], [4, 2]]}`, /line 2: reads\[1\]: days must be strictly increasing/],
      [`${header}\n{"key": "a", "size": 1, "created_day": 0, "reads": [[4, 0]]}`, /line 2: reads\[0\]: count must be an integer ≥ 1/],
      [`${header}\n{"key": "a", "size": 1, "created_day": 0, "reads": [[4]]}`, /line 2: reads\[0\] must be \[day, count\]/],
      [`${header}\n{"key": "a", "size": 1, "created_day": 0, "reads": {}}`, /line 2: "reads" must be an array/],
      [`${header}\n{"key": "a", "size": 1, "created_day": 0, "reads": [], "tier": "x"}`, /line 2: unknown field "tier"/],
      [`${header}\n${ok}\n${ok}`, /line 3: duplicate key "a"/],
    ];
    for (const [text, message] of cases) expect(() => parseTrace(text), text).toThrow(message);
  });
});
