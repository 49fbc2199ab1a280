/**
 * Runs the real checkers (promtool, amtool) on rendered files through the project's one process
 * launcher, and writes a stack's monitoring files to a directory the way they are deployed.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { MonitoringFile } from '../../../../config/render/monitoring-files';
import { forgetTemporaryDir, registerTemporaryDir, startProcess } from '../../../support/processes';

export interface ToolResult {
  readonly code: number | null;
  /** stdout and stderr, interleaved. */
  readonly output: string;
}

/** Runs a command to its end (bounded) and returns its exit code and output. */
export async function runTool(command: string, args: readonly string[], cwd: string): Promise<ToolResult> {
  const process = await startProcess({ name: command, command, args, cwd, stopTimeoutMs: 2_000 });
  const timer = setTimeout(() => void process.kill(), 60_000);
  const code = await process.exited;
  clearTimeout(timer);
  return { code, output: process.logTail(400) };
}

/** A fresh temporary directory, removed by `removeDir` (or by the launcher's reaper if the test dies). */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  registerTemporaryDir(dir);
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  forgetTemporaryDir(dir);
}

export function writeFiles(dir: string, files: readonly MonitoringFile[]): void {
  for (const file of files) {
    const path = join(dir, file.path);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, file.content);
  }
}
