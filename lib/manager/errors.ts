import { DfstoreError } from '../core/errors.ts';

/** The seed-peer list could not be read (Cloud Map unreachable or refusing). */
export class MembershipError extends DfstoreError {
  override readonly name = 'MembershipError';
  override readonly code = 'ERR_MEMBERSHIP';
  override readonly statusCode = 503;
}
