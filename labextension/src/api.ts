// The /bookstore/ REST API, typed. XSRF and auth come with ServerConnection.
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export type ShareKind = 'signed' | 'public';

export interface IShare {
  id: string;
  path: string;
  kind: ShareKind;
  url: string;
  viewer_url: string | null;
  created: string;
  expires: string | null;
  size: number;
}

export interface IStatus {
  version: string;
  history: boolean;
  sharing: {
    kinds: ShareKind[];
    default_expiry: string;
    max_expiry: string | null;
  } | null;
  sharing_unavailable: string | null;
}

export interface IVersion {
  id: string; // a checkpoint id, or 'current'
  created: string;
  size: number;
}

export interface IHistory {
  path: string;
  current: IVersion;
  checkpoints: IVersion[];
}

export interface IVersionContent extends IVersion {
  type: 'notebook' | 'file';
  format: 'json' | 'text' | 'base64';
  content: any;
}

export interface ICellChange {
  status: 'unchanged' | 'modified' | 'added' | 'removed';
  cell_type: string;
  changes: string[];
  lines: string[];
}

export interface IDiff {
  base: IVersion;
  remote: IVersion;
  cells: ICellChange[];
}

async function call<T>(
  method: string,
  route: string,
  path: string,
  query: Record<string, string> = {},
  body?: unknown
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const search = new URLSearchParams(query).toString();
  const url =
    URLExt.join(settings.baseUrl, 'bookstore', route, URLExt.encodeParts(path)) +
    (search ? `?${search}` : '');
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'Content-Type': 'application/json' };
  }
  const response = await ServerConnection.makeRequest(url, init, settings);
  const text = await response.text();
  let data: any = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { message: text };
  }
  if (!response.ok) {
    throw new Error(data?.message || `${response.status} ${response.statusText}`);
  }
  return data as T;
}

export const api = {
  status: () => call<IStatus>('GET', '', ''),
  shares: (path: string) =>
    call<{ shares: IShare[] }>('GET', 'shares', path).then(r => r.shares),
  share: (path: string, kind: ShareKind, expires?: string) =>
    call<IShare>('POST', 'shares', path, {}, { kind, expires }),
  unshare: (path: string, id: string) =>
    call<{ revoked: string[] }>('DELETE', 'shares', path, { id }),
  history: (path: string) => call<IHistory>('GET', 'history', path),
  version: (path: string, id: string) =>
    call<IVersionContent>('GET', 'history', path, { id }),
  restore: (path: string, id: string) =>
    call<{ restored: string }>('POST', 'history', path, {}, { id }),
  diff: (path: string, base: string, remote = 'current') =>
    call<IDiff>('GET', 'diff', path, { base, remote })
};

export function formatSize(bytes: number): string {
  if (bytes < 1024) {
    return `${bytes} B`;
  }
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

export function formatTime(iso: string): string {
  return new Date(iso).toLocaleString();
}

/** A small DOM helper: el('div', {class: 'x'}, child, 'text'). */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}
