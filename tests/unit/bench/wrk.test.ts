import { luaString, parseWrkReport, wrkScript } from '../../../scripts/bench/wrk';

describe('luaString', () => {
  it('escapes quotes, backslashes and every byte outside printable ASCII as \\ddd', () => {
    expect(luaString('{"a":"b\\\\c"}')).toBe('"{\\034a\\034:\\034b\\092\\092c\\034}"');
    expect(luaString('é\n')).toBe('"\\195\\169\\010"');
    expect(luaString('plain text/+=')).toBe('"plain text/+="');
  });
});

describe('wrkScript', () => {
  const script = wrkScript(
    [{ method: 'POST', path: '/v1/users', body: '{"email":"x-{seq}@e.com"}' }, { method: 'GET', path: '/v1/products' }],
    { authorization: 'Bearer t' },
    'p1',
  );

  it('holds every request, the headers and the sequence prefix as Lua literals', () => {
    expect(script).toContain('{ "POST", "/v1/users", "{\\034email\\034:\\034x-{seq}@e.com\\034}" },');
    expect(script).toContain('{ "GET", "/v1/products", nil },');
    expect(script).toContain('local headers = { ["authorization"] = "Bearer t" }');
    expect(script).toContain('local prefix = "p1"');
  });

  it('defines the callbacks wrk calls, and prints its report after the marker', () => {
    for (const fn of ['function init(args)', 'function request()', 'function response(status, hdrs, body)', 'function setup(thread)', 'function done(summary, latency, requests)']) {
      expect(script).toContain(fn);
    }
    expect(script).toContain("io.write(string.format('EVERGREEN-WRK-REPORT ");
  });

  it('refuses an empty request list', () => {
    expect(() => wrkScript([], {}, 'p')).toThrow(/at least one request/);
  });
});

describe('parseWrkReport', () => {
  const output = [
    'Running 1s test @ http://127.0.0.1:8080',
    '  1 threads and 8 connections',
    'EVERGREEN-WRK-REPORT {"requests":1200,"durationUs":1001234,"statuses":{"201":1190,"409":10},"transportErrors":2,"timeouts":1,"latencyUs":{"mean":812.5,"p50":640,"p99":4100,"p999":9000,"max":12000}}',
  ].join('\n');

  it('reads counts and turns microseconds into milliseconds', () => {
    expect(parseWrkReport(output)).toEqual({
      requests: 1200, durationUs: 1001234, byStatus: { 201: 1190, 409: 10 }, transportErrors: 2, timeouts: 1,
      latencyMs: { mean: 0.8125, p50: 0.64, p99: 4.1, p999: 9, max: 12 },
    });
  });

  it('fails with the output when there is no report line', () => {
    expect(() => parseWrkReport('unable to connect to 127.0.0.1:8080 Connection refused')).toThrow(/no report:\nunable to connect/);
  });
});
