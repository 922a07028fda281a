/** Bad arguments: the CLI prints it as a usage error (exit 2) before any command runs. */
export class UsageError extends Error {}
