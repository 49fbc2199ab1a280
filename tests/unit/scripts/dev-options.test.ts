import { DEFAULT_DEV_PORT, parseDevOptions } from '../../../scripts/dev';

describe('npm run dev options', () => {
  it('defaults to the gateway on 8080, 2 API instances, 2 replicas, 3 Sentinels', () => {
    expect(parseDevOptions([], {})).toEqual({ port: 8080, apiInstances: 2, replicas: 2, sentinels: 3, keep: false });
    expect(DEFAULT_DEV_PORT).toBe(8080);
  });

  it('takes the port from --port before EVERGREEN_DEV_PORT', () => {
    expect(parseDevOptions([], { EVERGREEN_DEV_PORT: '9000' }).port).toBe(9000);
    expect(parseDevOptions(['--port', '9100'], { EVERGREEN_DEV_PORT: '9000' }).port).toBe(9100);
    expect(parseDevOptions(['--port=9200'], {}).port).toBe(9200);
  });

  it('reads the counts and --keep', () => {
    expect(parseDevOptions(['--api-instances', '3', '--replicas', '1', '--sentinels', '5', '--keep'], {})).toEqual({
      port: 8080,
      apiInstances: 3,
      replicas: 1,
      sentinels: 5,
      keep: true,
    });
  });

  it('names every bad value in one error', () => {
    expect(() => parseDevOptions(['--port', '70000', '--sentinels', '1'], {})).toThrow(
      /--port must be an integer 1\.\.65535, got "70000"; --sentinels must be an integer 3\.\.9, got "1"/,
    );
    expect(() => parseDevOptions([], { EVERGREEN_DEV_PORT: 'http' })).toThrow(/EVERGREEN_DEV_PORT must be an integer/);
    // before anything is built or started
    expect(() => parseDevOptions(['--sentinels', '4'], {})).toThrow(/--sentinels must be odd/);
  });

  it('refuses unknown options and stray arguments', () => {
    expect(() => parseDevOptions(['--prot', '9000'], {})).toThrow(/--prot/);
    expect(() => parseDevOptions(['9000'], {})).toThrow(/9000/);
  });

  it('answers --help with the usage', () => {
    expect(() => parseDevOptions(['--help'], {})).toThrow(/^usage: npm run dev/);
  });
});
