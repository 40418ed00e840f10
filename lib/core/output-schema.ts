/**
 * outputSchema: ties an action's output schema to the TypeScript type of the value its
 * handler returns, so the published contract cannot drift from the code: the schema must
 * accept every value of the type and nothing outside it, with the same top-level keys (an
 * optional field added to the type and not to the schema fails the type check too).
 */
import type { z } from 'zod';

type Keys<T> = T extends readonly unknown[] ? never : T extends object ? keyof T : never;
type Agrees<T, O> = [T] extends [O]
  ? [Keys<T>] extends [Keys<O>]
    ? [Keys<O>] extends [Keys<T>]
      ? true
      : false
    : false
  : false;

/**
 * @example
 * interface Placed { cpu: number; pids: number[] }
 * const placedSchema = outputSchema<Placed>()(z.object({ cpu: z.int(), pids: z.array(z.int()) }));
 * core.action('cpu.placed', placed, { output: placedSchema });
 */
export function outputSchema<T>() {
  return <S extends z.ZodType<T>>(
    schema: S &
      (Agrees<T, z.output<S>> extends true
        ? unknown
        : 'the schema and the type disagree (fields or their types)'),
  ): S => schema;
}
