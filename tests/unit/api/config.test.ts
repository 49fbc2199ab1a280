import { ConfigError, parseConfig, withFileVariables } from '../../../api/src/config';

const minimal = { REDIS_SENTINELS: '127.0.0.1:26379', API_TOKENS: 'secret-token' };

function problemsOf(env: Record<string, string | undefined>): string {
  try {
    parseConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as ConfigError).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('applies the documented defaults', () => {
    const c = parseConfig(minimal);
    expect(c).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      masterName: 'evergreen',
      logLevel: 'info',
      apiTokens: ['secret-token'],
      sentinels: [{ host: '127.0.0.1', port: 26379 }],
      redisUsername: undefined,
      redisPassword: undefined,
      waitReplicas: 1,
      readFromReplicas: true,
      writeConnections: 4,
    });
    expect(c.commandTimeoutMs).toBeGreaterThan(c.waitTimeoutMs);
  });

  it('reads every variable of the contract', () => {
    const c = parseConfig({
      ...minimal,
      PORT: '9000',
      HOST: '127.0.0.1',
      REDIS_SENTINELS: 's1:26379, s2:26380,[::1]:26381',
      REDIS_MASTER_NAME: 'shop',
      REDIS_USERNAME: 'api',
      REDIS_PASSWORD: 'pw',
      API_TOKENS: 'a,b ,c',
      LOG_LEVEL: 'debug',
      REDIS_READ_FROM_REPLICAS: 'false',
    });
    expect(c.port).toBe(9000);
    expect(c.host).toBe('127.0.0.1');
    expect(c.sentinels).toEqual([
      { host: 's1', port: 26379 },
      { host: 's2', port: 26380 },
      { host: '::1', port: 26381 },
    ]);
    expect(c.masterName).toBe('shop');
    expect(c.redisUsername).toBe('api');
    expect(c.redisPassword).toBe('pw');
    expect(c.apiTokens).toEqual(['a', 'b', 'c']);
    expect(c.logLevel).toBe('debug');
    expect(c.readFromReplicas).toBe(false);
  });

  it.each([
    [{ API_TOKENS: 't' }, 'REDIS_SENTINELS'],
    [{ ...minimal, REDIS_SENTINELS: '' }, 'REDIS_SENTINELS'],
    [{ ...minimal, REDIS_SENTINELS: 'host-without-port' }, 'REDIS_SENTINELS'],
    [{ ...minimal, REDIS_SENTINELS: 'h:99999' }, 'REDIS_SENTINELS'],
    [{ REDIS_SENTINELS: 'h:1' }, 'API_TOKENS'],
    [{ ...minimal, API_TOKENS: '' }, 'API_TOKENS'],
    [{ ...minimal, API_TOKENS: ' , ,' }, 'API_TOKENS'],
    [{ ...minimal, PORT: 'eighty' }, 'PORT'],
    [{ ...minimal, PORT: '70000' }, 'PORT'],
    [{ ...minimal, LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ ...minimal, REDIS_MASTER_NAME: 'bad name' }, 'REDIS_MASTER_NAME'],
    [{ ...minimal, REDIS_WAIT_TIMEOUT_MS: '5000', REDIS_COMMAND_TIMEOUT_MS: '2000' }, 'REDIS_COMMAND_TIMEOUT_MS'],
    [{ ...minimal, REDIS_READ_FROM_REPLICAS: 'yes' }, 'REDIS_READ_FROM_REPLICAS'],
    [{ ...minimal, REDIS_WRITE_CONNECTIONS: '0' }, 'REDIS_WRITE_CONNECTIONS'],
  ])('rejects %j naming %s', (env, variable) => {
    expect(problemsOf(env)).toContain(variable);
  });

  it('names every bad variable in one line', () => {
    const message = problemsOf({ PORT: '-1' });
    expect(message).toContain('PORT');
    expect(message).toContain('REDIS_SENTINELS');
    expect(message).toContain('API_TOKENS');
  });

  it('treats an empty optional variable as unset', () => {
    expect(parseConfig({ ...minimal, PORT: '', LOG_LEVEL: '' })).toMatchObject({ port: 8080, logLevel: 'info' });
  });
});

describe('withFileVariables (secrets from files: REDIS_PASSWORD_FILE, API_TOKENS_FILE)', () => {
  const files: Record<string, string> = { '/run/secrets/redis-password': 'pw-from-file\n', '/run/secrets/api-tokens': 'tok-a,tok-b' };
  const read = (path: string): string => {
    const content = files[path];
    if (content === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return content;
  };

  it('takes each secret from its file (trailing line break dropped) and the rest of the environment as it is', () => {
    const env = withFileVariables(
      { REDIS_SENTINELS: '127.0.0.1:26379', REDIS_PASSWORD_FILE: '/run/secrets/redis-password', API_TOKENS_FILE: '/run/secrets/api-tokens' },
      read,
    );
    expect(env).toEqual({ REDIS_SENTINELS: '127.0.0.1:26379', REDIS_PASSWORD: 'pw-from-file', API_TOKENS: 'tok-a,tok-b' });
    expect(parseConfig(env)).toMatchObject({ redisPassword: 'pw-from-file', apiTokens: ['tok-a', 'tok-b'] });
  });

  it('refuses a variable set both ways, and a file it cannot read, naming each in one line', () => {
    let caught: unknown;
    try {
      withFileVariables({ ...minimal, API_TOKENS_FILE: '/run/secrets/api-tokens', REDIS_PASSWORD_FILE: '/nowhere' }, read);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).message).toBe(
      'invalid environment: REDIS_PASSWORD_FILE cannot be read (ENOENT: /nowhere); API_TOKENS and API_TOKENS_FILE are both set: set one',
    );
  });

  it('leaves an environment without *_FILE unchanged', () => {
    expect(withFileVariables(minimal, read)).toEqual(minimal);
  });
});
