// The vocabulary the seed draws from: sites, page paths and titles, referrers, devices, countries and
// custom events, weighted to look like a real small-SaaS analytics install.
import { hash32, Rng, Weighted, zipfWeights } from './prng.js';

export interface Page {
  path: string;
  title: string;
}

export interface SiteSpec {
  id: number;
  publicId: string;
  domain: string;
  name: string;
  timezone: string;
  pages: Page[];
  /** Page popularity: Zipf over `pages` (index 0, the home page, most popular). */
  popularity: Weighted<number>;
}

const DOMAINS = ['horizn.example', 'shop.horizn.example', 'docs.horizn.example', 'blog.example.org', 'status.example.net'];
const TIMEZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'Europe/London'];
const WORDS = (
  'privacy analytics dashboard cookie consent tracking script events goals funnel retention realtime ' +
  'pageviews referrer campaign export import api webhook pricing team invoice billing backup restore ' +
  'mysql mariadb docker kubernetes nginx caddy node typescript performance speed security audit gdpr ' +
  'release notes roadmap changelog migration guide tutorial getting started install configure upgrade'
).split(' ');
const SECTIONS = ['blog', 'docs', 'guides', 'changelog', 'integrations', 'features', 'help'];
const FIXED_PAGES: Page[] = [
  { path: '/', title: 'Home' },
  { path: '/pricing', title: 'Pricing' },
  { path: '/features', title: 'Features' },
  { path: '/signup', title: 'Create your account' },
  { path: '/login', title: 'Log in' },
  { path: '/about', title: 'About us' },
  { path: '/contact', title: 'Contact' },
  { path: '/privacy', title: 'Privacy policy' },
];

function titleCase(words: string[]): string {
  return words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join(' ');
}

export function buildSites(seed: string, count: number): SiteSpec[] {
  const sites: SiteSpec[] = [];
  for (let i = 0; i < count; i++) {
    const rng = new Rng(seed, 'site', i);
    const domain = DOMAINS[i] ?? `site${i + 1}.example.net`;
    const nPages = Math.max(30, Math.round(600 / (i + 1)));
    const pages: Page[] = [...FIXED_PAGES];
    const seen = new Set(pages.map((p) => p.path));
    while (pages.length < nPages) {
      const section = rng.pick(SECTIONS);
      const words = [rng.pick(WORDS), rng.pick(WORDS), rng.pick(WORDS)];
      const path = `/${section}/${words.join('-')}`;
      if (seen.has(path)) continue;
      seen.add(path);
      pages.push({ path, title: `${titleCase(words)} | ${titleCase([section])}` });
    }
    sites.push({
      id: i + 1,
      publicId: hash32(seed, 'public', i).toString(36).padStart(7, '0') + (i + 1).toString(36).padStart(5, '0'),
      domain,
      name: titleCase(domain.split('.')[0]!.split('-')),
      timezone: TIMEZONES[i % TIMEZONES.length]!,
      pages,
      popularity: new Weighted(
        pages.map((_, k) => k),
        zipfWeights(pages.length, 1.07),
      ),
    });
  }
  return sites;
}

export interface Referrer {
  host: string;
  kind: 'direct' | 'search' | 'social' | 'link';
}

export const REFERRERS = new Weighted<Referrer>(
  [
    { host: '', kind: 'direct' },
    { host: 'www.google.com', kind: 'search' },
    { host: 'duckduckgo.com', kind: 'search' },
    { host: 'www.bing.com', kind: 'search' },
    { host: 'www.ecosia.org', kind: 'search' },
    { host: 'news.ycombinator.com', kind: 'social' },
    { host: 'www.reddit.com', kind: 'social' },
    { host: 't.co', kind: 'social' },
    { host: 'www.linkedin.com', kind: 'social' },
    { host: 'mastodon.social', kind: 'social' },
    { host: 'github.com', kind: 'link' },
    { host: 'dev.to', kind: 'link' },
    { host: 'lobste.rs', kind: 'link' },
    { host: 'stackoverflow.com', kind: 'link' },
  ],
  [38, 24, 4, 3, 1, 4, 5, 3, 2, 1, 4, 2, 1, 2],
);
/** Share of sessions from a long tail of small sites (blogs, newsletters). */
export const LONG_TAIL_SHARE = 0.06;
export const LONG_TAIL = new Weighted(
  Array.from({ length: 400 }, (_, k) => `blog${k + 1}.example.com`),
  zipfWeights(400, 1.2),
);

export const CAMPAIGNS: readonly [string, string, string][] = [
  ['newsletter', 'email', 'monthly-digest'],
  ['newsletter', 'email', 'product-update'],
  ['twitter', 'social', 'launch-week'],
  ['google', 'cpc', 'brand'],
  ['google', 'cpc', 'privacy-analytics'],
  ['partner', 'referral', 'affiliate-q4'],
];

export const DEVICES = new Weighted(['desktop', 'mobile', 'tablet', 'other'] as const, [55, 40, 4, 1]);
export const BROWSERS = {
  desktop: new Weighted(['Chrome', 'Firefox', 'Safari', 'Edge', 'Opera'], [55, 15, 14, 13, 3]),
  mobile: new Weighted(['Chrome Mobile', 'Mobile Safari', 'Samsung Internet', 'Firefox Mobile'], [50, 38, 9, 3]),
  tablet: new Weighted(['Mobile Safari', 'Chrome Mobile'], [70, 30]),
  other: new Weighted(['Other'], [1]),
} as const;
export const OSES = {
  desktop: new Weighted(['Windows', 'macOS', 'Linux', 'ChromeOS'], [60, 27, 11, 2]),
  mobile: new Weighted(['Android', 'iOS'], [58, 42]),
  tablet: new Weighted(['iPadOS', 'Android'], [70, 30]),
  other: new Weighted(['Other'], [1]),
} as const;

export const COUNTRIES = new Weighted<string | null>(
  ['US', 'DE', 'GB', 'IN', 'FR', 'CA', 'NL', 'BR', 'JP', 'ES', 'IT', 'PL', 'SE', 'AU', 'CH', 'AT', 'KR', 'MX', 'ZA', null],
  [28, 9, 7, 6, 5, 4, 3, 3, 3, 2, 2, 2, 2, 2, 1.5, 1.2, 1.2, 1, 0.8, 2],
);

/** Session starts by UTC hour: quiet nights, busy European afternoon / American morning. */
export const HOURS = new Weighted(
  Array.from({ length: 24 }, (_, h) => h),
  [2, 1.5, 1.2, 1, 1, 1.2, 2, 3, 4.5, 5.5, 6, 6.5, 7, 7.5, 8, 8, 7.5, 7, 6, 5, 4.5, 4, 3.5, 2.5],
);

export const EVENT_NAMES = new Weighted(
  ['outbound_link', 'signup', 'download', 'video_play', 'search', 'add_to_cart', 'purchase', 'scroll_depth', 'click_cta'],
  [18, 6, 8, 7, 12, 6, 2, 30, 11],
);

const PLANS = ['free', 'pro', 'team'];
const CURRENCIES = ['EUR', 'USD', 'GBP'];
const CTA = ['hero', 'header', 'footer', 'pricing-table', 'sidebar'];

/** JSON properties for one custom event; keys in a fixed order so the text is deterministic. */
export function eventProperties(name: string, rng: Rng): string | null {
  switch (name) {
    case 'outbound_link':
      return `{"url_host":"${REFERRERS.sample(rng).host || 'example.com'}"}`;
    case 'signup':
      return `{"plan":"${rng.pick(PLANS)}","source":"${rng.pick(CTA)}"}`;
    case 'download':
      return `{"file":"horizn-1.${rng.int(12)}.${rng.int(5)}.tar.gz","size_kb":${1000 + rng.int(9000)}}`;
    case 'video_play':
      return `{"video_id":"v${rng.int(40)}","position_s":${rng.int(300)}}`;
    case 'search':
      return `{"query_length":${1 + rng.int(30)},"results":${rng.int(50)}}`;
    case 'add_to_cart':
      return `{"product_id":"sku-${100 + rng.int(400)}","price_cents":${500 + rng.int(20000)},"currency":"${rng.pick(CURRENCIES)}"}`;
    case 'purchase':
      return `{"order_value_cents":${1000 + rng.int(50000)},"currency":"${rng.pick(CURRENCIES)}","items":${1 + rng.int(5)}}`;
    case 'scroll_depth':
      return `{"percent":${rng.pick([25, 50, 75, 100])}}`;
    case 'click_cta':
      return `{"label":"${rng.pick(['Start free trial', 'See pricing', 'Book a demo', 'Read the docs'])}","position":"${rng.pick(CTA)}"}`;
    default:
      return null;
  }
}
