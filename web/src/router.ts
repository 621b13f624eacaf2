/**
 * The page's own routes: `/` (the Overview) and `/ui/<page>`, which the control plane answers
 * with this same page (src/api/static.ts). History API, no library: a click on a link pushes the
 * path, back and forward pop it.
 */
import { createElement, useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent, type ReactNode } from 'react';
import type { Me } from './api/types.ts';

export interface PageInfo {
  readonly id: string;
  readonly path: string;
  readonly title: string;
  /** What the caller's roles must allow for the page to be offered (GET /me `can`). */
  readonly needs?: keyof Me['can'];
}

/** Issue 16's pages, in the order the navigation shows them (Alerts and Audit are one item of the issue). */
export const PAGES: readonly PageInfo[] = [
  { id: 'overview', path: '/', title: 'Overview' },
  { id: 'inventory', path: '/ui/inventory', title: 'Inventory' },
  { id: 'replication', path: '/ui/replication', title: 'Replication', needs: 'view_operations' },
  { id: 'policies', path: '/ui/policies', title: 'Tiering' },
  { id: 'streams', path: '/ui/streams', title: 'Streams', needs: 'view_operations' },
  { id: 'alerts', path: '/ui/alerts', title: 'Alerts', needs: 'view_operations' },
  { id: 'audit', path: '/ui/audit', title: 'Audit', needs: 'audit' },
];

const NAVIGATED = 'movingdata:navigate';

function subscribe(onChange: () => void): () => void {
  window.addEventListener('popstate', onChange);
  window.addEventListener(NAVIGATED, onChange);
  return () => {
    window.removeEventListener('popstate', onChange);
    window.removeEventListener(NAVIGATED, onChange);
  };
}

export function usePath(): string {
  return useSyncExternalStore(subscribe, () => window.location.pathname);
}

export function navigate(path: string): void {
  if (path === window.location.pathname) return;
  window.history.pushState(null, '', path);
  window.dispatchEvent(new Event(NAVIGATED));
}

/** The page a path shows, or undefined (not one of ours). */
export function pageAt(path: string): PageInfo | undefined {
  const normal = path.length > 1 ? path.replace(/\/+$/, '') : path;
  if (normal.startsWith('/ui/inventory/')) return PAGES.find((p) => p.id === 'inventory'); // a file's detail: /ui/inventory/<location>/<key>
  return PAGES.find((p) => p.path === normal) ?? (normal === '/ui/overview' ? PAGES[0] : undefined);
}

export function Link({ to, children, ...rest }: { readonly to: string; readonly children: ReactNode } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    rest.onClick?.(event);
    // A new tab, a download or a modified click is the browser's business.
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return createElement('a', { ...rest, href: to, onClick }, children);
}
