/**
 * The few error kinds every component distinguishes. A CLI maps them to exit codes
 * (see cli.ts): problems the user can fix in their input or usage exit 2, everything else 1.
 */

/** Bad usage, configuration or input data: the message says what is wrong and where. Exit code 2. */
export class InputError extends Error {
  override name = 'InputError';
}

/** An object, table or file that was expected is not there. */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/** A conditional write found the target already present (the basis of atomic publishing). */
export class AlreadyExistsError extends Error {
  override name = 'AlreadyExistsError';
}

/** A remote service refused our credentials (wrong key, expired token, missing IAM permission). */
export class CredentialsError extends Error {
  override name = 'CredentialsError';
}

/** The text of any thrown value, for messages. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
