// The errors of the task record's rules: a submission or limit refused (newTaskRecord,
// checkLimits, a result over its cap), and stored bytes that are no record (decodeRecord).
export class TaskValidationError extends Error {
  override name = 'TaskValidationError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export class PayloadTooLargeError extends TaskValidationError {
  override name = 'PayloadTooLargeError';
  constructor(
    field: 'payload' | 'result',
    readonly bytes: number,
    readonly limit: number,
    taskId?: string,
  ) {
    super(field, `${field} of ${taskId ? `task ${taskId}` : 'task'} is ${bytes} bytes, over the ${limit}-byte limit`);
  }
}

export class MalformedRecordError extends Error {
  override name = 'MalformedRecordError';
}
