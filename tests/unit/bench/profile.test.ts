import { areaOf, renderProfileSummary, summarizeProfile, type CpuProfile } from '../../../scripts/bench/profile';

describe('areaOf', () => {
  it('names packages (scoped too), Node internals, API files and V8 pseudo-frames', () => {
    expect(areaOf('file:///w/node_modules/pino/lib/proto.js', 'write')).toBe('pino');
    expect(areaOf('/w/node_modules/@asteasolutions/zod-to-openapi/dist/index.cjs', 'x')).toBe('@asteasolutions/zod-to-openapi');
    expect(areaOf('node:internal/streams/writable', 'write')).toBe('node:streams');
    expect(areaOf('node:net', 'Socket')).toBe('node:net');
    expect(areaOf('file:///w/build/api/src/purchases/store.js', 'create')).toBe('api/purchases/store');
    expect(areaOf('', '(garbage collector)')).toBe('(garbage collector)');
    expect(areaOf('', 'writev')).toBe('native writev');
  });
});

describe('summarizeProfile', () => {
  const frame = (functionName: string, url: string, lineNumber = 0) => ({ functionName, url, lineNumber });
  const profile: CpuProfile = {
    startTime: 0,
    endTime: 1_000_000, // 1 s
    nodes: [
      { id: 1, callFrame: frame('(root)', '') },
      { id: 2, callFrame: frame('(idle)', '') },
      { id: 3, callFrame: frame('write', '/w/node_modules/pino/lib/proto.js', 9) },
      { id: 4, callFrame: frame('asJson', '/w/node_modules/pino/lib/tools.js', 99) },
      { id: 5, callFrame: frame('create', '/w/build/api/src/purchases/store.js', 4) },
    ],
    samples: [2, 2, 2, 2, 3, 3, 4, 5, 5, 5],
  };

  it('adds up self time by area and by function, as shares of all samples', () => {
    const s = summarizeProfile(profile);
    expect(s.totalMs).toBe(1000);
    expect(s.idleShare).toBe(0.4);
    expect(s.byArea.map((e) => [e.name, e.share])).toEqual([['(idle)', 0.4], ['pino', 0.3], ['api/purchases/store', 0.3]]);
    expect(s.byFunction[2]).toEqual({ name: 'write node_modules/pino/lib/proto.js:10', selfMs: 200, share: 0.2 });
  });

  it('falls back to hitCount when the profile has no samples, and renders a text report', () => {
    const s = summarizeProfile({ ...profile, samples: undefined, nodes: profile.nodes.map((n) => ({ ...n, hitCount: n.id === 3 ? 1 : 0 })) });
    expect(s.byArea).toEqual([{ name: 'pino', selfMs: 1000, share: 1 }]);
    expect(renderProfileSummary('api-0', s)).toContain('100.0 %  100.0%     1000 ms  pino');
  });

  it('counts only samples inside the windows (start-up and warm-up left out)', () => {
    // samples every 100 ms from t = 100 ms: 100 (idle) … 1000 (create)
    const timed: CpuProfile = { ...profile, timeDeltas: profile.samples?.map(() => 100_000) };
    const s = summarizeProfile(timed, 10, [[450_000, 750_000]]); // samples at 500, 600, 700 ms: write, write, asJson
    expect(s.samples).toBe(3);
    expect(s.totalMs).toBe(300);
    expect(s.byFunction.map((e) => [e.name, e.share])).toEqual([
      ['write node_modules/pino/lib/proto.js:10', 2 / 3],
      ['asJson node_modules/pino/lib/tools.js:100', 1 / 3],
    ]);
    expect(() => summarizeProfile(profile, 10, [[0, 1]])).toThrow(/timeDeltas/);
  });
});
