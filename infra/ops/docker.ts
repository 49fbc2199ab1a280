import Docker from 'dockerode';

/** What to do when no Docker engine answers, in one line. */
export const DOCKER_MISSING =
  'install Docker (Debian: apt-get install docker.io) and start it (systemctl start docker or dockerd), or point DOCKER_HOST at a running engine';

/** A Docker client (DOCKER_HOST or the local socket) whose engine answered a ping; else one clear error. */
export async function connectDocker(): Promise<Docker> {
  const docker = new Docker();
  try {
    await docker.ping();
  } catch (error) {
    const where = process.env.DOCKER_HOST ?? '/var/run/docker.sock';
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(`no Docker engine answers at ${where} (${why}): ${DOCKER_MISSING}`, { cause: error });
  }
  return docker;
}
