/**
 * Entitlements: "can this core do <action> with <quantity>?". Registration says an action
 * exists; the checker says whether it may run here and now (plans, quotas, sandboxes). The
 * default checker allows everything, the trusted-conclave case.
 */

/** What a checker answers. Only `allowed` is required. */
export interface EntitlementDecision {
  allowed: boolean;
  /** No cap at all (admin, trusted conclave). */
  unlimited?: boolean;
  /** Total allowed; 0 means a boolean gate with no quantity dimension. */
  limit?: number;
  /** Consumption so far, as the checker counts it. */
  used?: number;
  /** Why not: shown to users and written to the `security.denied` event. */
  reason?: string;
}

/** What a checker is told besides the action and quantity. */
export interface EntitlementContext {
  /** The core asking (`core.name`). */
  readonly core: string;
  /** This core's own tally of `recordUsage` for the action: lets a simple checker enforce a quota. */
  readonly used: number;
  /** Caller-supplied context (`run(input, { context })`): workspace, user, surface. */
  readonly data: Readonly<Record<string, unknown>>;
}

/**
 * @example
 * const quota: EntitlementChecker = (action, qty, ctx) =>
 *   action === 'ai.credits'
 *     ? { allowed: ctx.used + qty <= 100, limit: 100, used: ctx.used, reason: 'credit quota' }
 *     : { allowed: true, unlimited: true };
 */
export type EntitlementChecker = (
  action: string,
  quantity: number,
  ctx: EntitlementContext,
) => EntitlementDecision;

/**
 * @example
 * const e = core.entitled('ai.credits', 10);
 * if (e.allowed && e.nearLimit(0.8)) showUpgradePrompt(e.usagePercent());
 */
export class Entitlement {
  readonly allowed: boolean;
  readonly unlimited: boolean;
  readonly limit: number;
  readonly used: number;
  /** `limit - used`, never negative; `Infinity` when unlimited. */
  readonly remaining: number;
  readonly reason: string;

  constructor(decision: EntitlementDecision) {
    this.allowed = decision.allowed === true;
    this.unlimited = decision.unlimited === true;
    this.limit = finiteOrZero(decision.limit);
    this.used = finiteOrZero(decision.used);
    this.remaining = this.unlimited
      ? Number.POSITIVE_INFINITY
      : Math.max(0, this.limit - this.used);
    this.reason = decision.reason ?? '';
  }

  /**
   * True when usage has reached `threshold` (a fraction, 0.8 = 80 %) of a finite limit.
   *
   * @example
   * new Entitlement({ allowed: true, limit: 10, used: 8 }).nearLimit(0.8); // true
   */
  nearLimit(threshold = 0.8): boolean {
    if (this.unlimited || this.limit <= 0) return false;
    return this.used / this.limit >= threshold;
  }

  /**
   * Usage as a percentage of the limit; 0 when unlimited or a boolean gate.
   *
   * @example
   * new Entitlement({ allowed: true, limit: 4, used: 3 }).usagePercent(); // 75
   */
  usagePercent(): number {
    if (this.unlimited || this.limit <= 0) return 0;
    return (this.used / this.limit) * 100;
  }
}

/**
 * @example
 * core.setEntitlementChecker(allowAll); // back to the permissive default
 */
export const allowAll: EntitlementChecker = () => ({ allowed: true, unlimited: true });

function finiteOrZero(n: number | undefined): number {
  return typeof n === 'number' && Number.isFinite(n) ? n : 0;
}
