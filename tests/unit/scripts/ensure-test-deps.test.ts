import { E2E_ONLY_PACKAGES, packagesForTestRun, TEST_PROGRAMS } from '../../../scripts/ensure-test-deps';

describe('the packages a test run needs (scripts/ensure-test-deps.ts)', () => {
  it('every test program, Docker and debootstrap included', () => {
    expect(packagesForTestRun({})).toEqual(Object.keys(TEST_PROGRAMS));
    expect(packagesForTestRun({})).toEqual(expect.arrayContaining(['docker.io', 'debootstrap']));
  });

  it('with EVERGREEN_E2E=skip (a machine without Docker) neither Docker nor debootstrap', () => {
    const needed = packagesForTestRun({ EVERGREEN_E2E: 'skip' });
    expect(needed).toEqual(Object.keys(TEST_PROGRAMS).filter((p) => !E2E_ONLY_PACKAGES.includes(p)));
    expect(needed).not.toContain('docker.io');
    expect(needed).toContain('redis-server');
    expect(packagesForTestRun({ EVERGREEN_E2E: 'yes' })).toContain('docker.io');
  });
});
