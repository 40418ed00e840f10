// A Prometheus scrape from outside: GET /metrics over real HTTP, the answer parsed by an
// independent parser of the text format (parse-prometheus-text-format), and lookups of one
// series by name and labels. Shared by the API and the CLI metrics tests.
import parsePrometheusTextFormat, {
  type ParsedFamily,
  type ParsedSample,
} from 'parse-prometheus-text-format';

export interface Scrape {
  status: number;
  contentType: string | null;
  families: ParsedFamily[];
}

/** One scrape; `token` null sends no Authorization header. */
export async function scrape(url: string, token: string | null): Promise<Scrape> {
  const res = await fetch(
    url,
    token === null ? {} : { headers: { authorization: `Bearer ${token}` } },
  );
  const text = await res.text();
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    families: res.status === 200 ? parsePrometheusTextFormat(text) : [],
  };
}

/** The family called `name`, or undefined. */
export function family(s: Scrape, name: string): ParsedFamily | undefined {
  return s.families.find((f) => f.name === name);
}

/** The sample of `name` whose labels include `labels` (all of them, exactly). */
export function sample(
  s: Scrape,
  name: string,
  labels: Record<string, string> = {},
): ParsedSample | undefined {
  return family(s, name)?.metrics.find((m) =>
    Object.entries(labels).every(([k, v]) => (m.labels?.[k] ?? '') === v),
  );
}

/** A counter's or gauge's value (0 when the series is not there yet). */
export function value(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  return Number(sample(s, name, labels)?.value ?? 0);
}

/** A histogram's observation count (0 when not there yet). */
export function count(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  return Number(sample(s, name, labels)?.count ?? 0);
}

/**
 * Scrapes until `check` holds (events reach the metrics on a later turn of the server's
 * loop); the bound is generous and a failure, not a timing. Returns the last scrape.
 */
export async function scrapeUntil(
  url: string,
  token: string | null,
  check: (s: Scrape) => boolean,
  timeoutMs = 15_000,
): Promise<Scrape> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = await scrape(url, token);
    if (check(s)) return s;
    if (Date.now() > end) {
      const shown = s.families.map((f) => `${f.name} ${JSON.stringify(f.metrics)}`).join('\n');
      throw new Error(
        `metrics did not reach the expected values within ${timeoutMs} ms:\n${shown}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
