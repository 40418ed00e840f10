/**
 * `core-process rt-check [--json]`: what this machine offers for realtime and what to fix,
 * one line per check with pass / warn / fail and the fixing command. Exit 1 when a check
 * fails (something realtime will not work), 0 otherwise.
 */
import { Command } from 'commander';
import { type CheckStatus, rtCheck } from '../sched/rt-check.js';

const MARK: Record<CheckStatus, string> = { pass: 'pass', warn: 'WARN', fail: 'FAIL' };

/**
 * The `rt-check` subcommand.
 * @example
 * program.addCommand(rtCheckSubcommand());
 */
export function rtCheckSubcommand(): Command {
  return new Command('rt-check')
    .description('what this machine offers for realtime, and the command that fixes each problem')
    .option('--json', 'print the report as one JSON object')
    .addHelpText(
      'after',
      `
Reads the kernel's files only (nothing is changed) and samples host steal for 0.5 s.
Exit status: 1 when a check fails, else 0.

Examples:
  core-process rt-check
  core-process rt-check --json | jq '.items[] | select(.status != "pass")'`,
    )
    .action(async (flags: { json?: boolean }) => {
      const report = await rtCheck();
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        process.stdout.write(`kernel ${report.kernel}; CPUs ${report.cpus.join(',')}\n`);
        for (const i of report.items) {
          process.stdout.write(`${MARK[i.status]}  ${i.title}: ${i.value}\n      ${i.detail}\n`);
          if (i.fix) process.stdout.write(`      fix: ${i.fix}\n`);
        }
        const s = report.summary;
        process.stdout.write(`${s.pass} pass, ${s.warn} warn, ${s.fail} fail\n`);
      }
      process.exitCode = report.summary.fail > 0 ? 1 : 0;
    });
}
