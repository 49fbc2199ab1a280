/**
 * Pulumi's entry point (Pulumi.yaml `main`): Pulumi runs the exported function and makes its result
 * the stack outputs. Everything is in program.ts, which the tests run under mocks.
 */
import { evergreenProgram } from './program';

export = evergreenProgram;
