// The Share… dialog: make a link (signed with an expiry, or public), copy it, unshare.
import { Clipboard, Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { api, el, formatTime, IShare, IStatus, ShareKind } from './api';

const EXPIRY_CHOICES: [string, string][] = [
  ['1h', '1 hour'],
  ['1d', '1 day'],
  ['7d', '7 days'],
  ['30d', '30 days']
];

const SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

function seconds(duration: string): number {
  let total = 0;
  for (const [, n, unit] of duration.matchAll(/(\d+)([smhdw])/g)) {
    total += Number(n) * SECONDS[unit];
  }
  return total;
}

export class ShareBody extends Widget {
  constructor(
    readonly path: string,
    readonly status: NonNullable<IStatus['sharing']>
  ) {
    super();
    this.addClass('bookstore-share');
    const max = status.max_expiry ? seconds(status.max_expiry) : Infinity;
    const choices = EXPIRY_CHOICES.filter(([value]) => seconds(value) <= max);
    if (!choices.some(([value]) => value === status.default_expiry)) {
      choices.push([status.default_expiry, status.default_expiry]);
    }
    this._expiry = el('select', { class: 'bookstore-share-expiry', 'aria-label': 'Expires in' });
    for (const [value, label] of choices) {
      const option = el('option', { value }, label);
      option.selected = value === status.default_expiry;
      this._expiry.append(option);
    }
    this._signed = el('input', { type: 'radio', name: 'bookstore-kind', value: 'signed' });
    this._signed.checked = true;
    const publicRadio = el('input', { type: 'radio', name: 'bookstore-kind', value: 'public' });
    const create = el('button', { class: 'jp-mod-styled jp-mod-accept bookstore-share-create' },
      'Create link');
    create.addEventListener('click', () => void this._create());
    this.node.append(
      el('p', { class: 'bookstore-share-path' }, 'Links to ', el('code', {}, path),
        ' show it as it is now, to anyone who has them, without Jupyter.'),
      el('div', { class: 'bookstore-share-form' },
        el('label', {}, this._signed, ' Expiring link, valid for ', this._expiry),
        el('label', {}, publicRadio, ' Public link (until unshared)'),
        create),
      this._error,
      this._list
    );
    this._error.className = 'bookstore-error';
    this._list.className = 'bookstore-share-list';
    void this.refresh();
  }

  async refresh(): Promise<void> {
    try {
      this._render(await api.shares(this.path));
    } catch (error) {
      this._fail(error);
    }
  }

  private async _create(): Promise<void> {
    const kind: ShareKind = this._signed.checked ? 'signed' : 'public';
    this._error.textContent = '';
    try {
      await api.share(this.path, kind, kind === 'signed' ? this._expiry.value : undefined);
      await this.refresh();
    } catch (error) {
      this._fail(error);
    }
  }

  private async _unshare(share: IShare): Promise<void> {
    try {
      await api.unshare(this.path, share.id);
      await this.refresh();
    } catch (error) {
      this._fail(error);
    }
  }

  private _render(shares: IShare[]): void {
    this._list.replaceChildren();
    if (!shares.length) {
      this._list.append(el('p', { class: 'bookstore-muted' }, 'Not shared yet.'));
      return;
    }
    const now = Date.now();
    for (const share of shares) {
      const expired = share.expires !== null && Date.parse(share.expires) <= now;
      const when = share.expires
        ? `${expired ? 'expired' : 'expires'} ${formatTime(share.expires)}`
        : 'public, no expiry';
      const unshare = el('button', { class: 'jp-mod-styled jp-mod-warn bookstore-share-unshare' },
        'Unshare');
      unshare.addEventListener('click', () => void this._unshare(share));
      const item = el('div', { class: 'bookstore-share-item', 'data-kind': share.kind },
        el('div', { class: 'bookstore-share-meta' },
          el('strong', {}, share.kind === 'signed' ? 'Expiring link' : 'Public link'),
          ` · shared ${formatTime(share.created)} · ${when}`, unshare),
        linkRow('Link', share.url, 'bookstore-share-link'));
      if (share.viewer_url) {
        item.append(linkRow('nbviewer', share.viewer_url, 'bookstore-share-viewer'));
      }
      if (expired) {
        item.classList.add('bookstore-expired');
      }
      this._list.append(item);
    }
  }

  private _fail(error: unknown): void {
    this._error.textContent = error instanceof Error ? error.message : String(error);
  }

  private _expiry: HTMLSelectElement;
  private _signed: HTMLInputElement;
  private _error = document.createElement('div');
  private _list = document.createElement('div');
}

function linkRow(label: string, url: string, className: string): HTMLElement {
  const input = el('input', { class: 'jp-mod-styled', readonly: '', value: url,
    'aria-label': label });
  input.addEventListener('focus', () => input.select());
  const copy = el('button', { class: 'jp-mod-styled bookstore-copy', title: `Copy ${label}` },
    'Copy');
  copy.addEventListener('click', () => {
    Clipboard.copyToSystem(url);
    copy.textContent = 'Copied';
    setTimeout(() => (copy.textContent = 'Copy'), 1500);
  });
  const open = el('a', { href: url, target: '_blank', rel: 'noopener noreferrer',
    class: 'bookstore-open' }, 'Open');
  return el('div', { class: `bookstore-link-row ${className}` },
    el('span', { class: 'bookstore-link-label' }, label), input, copy, open);
}

export async function showShareDialog(
  path: string,
  status: NonNullable<IStatus['sharing']>
): Promise<void> {
  await showDialog({
    title: 'Share…',
    body: new ShareBody(path, status),
    buttons: [Dialog.okButton({ label: 'Close' })]
  });
}
