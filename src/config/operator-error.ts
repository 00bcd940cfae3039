// The errors an operator fixes by changing what they typed, the configuration or the environment.
// The CLI prints their message as one line and exits 3 (unknown, as monitoring plugins read it),
// with no stack trace. A base class in a module that imports nothing, so the CLI's error handler
// can tell them apart without loading the modules that throw them (Bolt, ioredis, ssh2, zod).
export class OperatorError extends Error {}
