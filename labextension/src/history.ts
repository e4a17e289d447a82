// The Version history side panel: the current notebook's checkpoints, one version's
// content, its diff against now, and restore (what is replaced stays in the history).
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { historyIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { api, el, formatSize, formatTime, ICellChange, IVersion } from './api';

export class HistoryPanel extends Widget {
  constructor() {
    super();
    this.id = 'bookstore-history';
    this.addClass('bookstore-history');
    this.title.icon = historyIcon;
    this.title.caption = 'Version history';
    const refresh = el('button', { class: 'jp-mod-styled bookstore-history-refresh' }, 'Refresh');
    refresh.addEventListener('click', () => void this.refresh());
    this.node.append(
      el('div', { class: 'bookstore-history-header' },
        el('h3', {}, 'Version history'), refresh),
      this._title, this._error, this._list, this._detail);
    this._title.className = 'bookstore-history-path';
    this._error.className = 'bookstore-error';
    this._list.className = 'bookstore-history-list';
    this._detail.className = 'bookstore-history-detail';
    this._show(null);
  }

  /** Follow this document (null: none open), and refresh when it is saved. */
  follow(context: DocumentRegistry.Context | null): void {
    if (context === this._context) {
      return;
    }
    this._context?.fileChanged.disconnect(this._onSaved, this);
    this._context = context;
    context?.fileChanged.connect(this._onSaved, this);
    this._show(context);
  }

  async refresh(): Promise<void> {
    const context = this._context;
    if (!context) {
      return;
    }
    this._error.textContent = '';
    try {
      const history = await api.history(context.path);
      if (context !== this._context) {
        return; // another notebook meanwhile
      }
      this._list.replaceChildren(
        this._row(history.current, true),
        ...history.checkpoints.map(version => this._row(version, false))
      );
      if (!history.checkpoints.length) {
        this._list.append(el('p', { class: 'bookstore-muted' },
          'No earlier versions yet: save a checkpoint (Ctrl+S) to make one.'));
      }
    } catch (error) {
      this._fail(error);
    }
  }

  private _show(context: DocumentRegistry.Context | null): void {
    this._detail.replaceChildren();
    delete this._detail.dataset.shows;
    this._list.replaceChildren();
    this._title.textContent = context ? context.path : 'Open a notebook to see its versions.';
    void this.refresh();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.refresh();
  }

  private _onSaved(): void {
    // JupyterLab saves, then makes the checkpoint: list once that has landed too.
    void this.refresh();
    window.clearTimeout(this._later);
    this._later = window.setTimeout(() => void this.refresh(), 1000);
  }

  private _row(version: IVersion, current: boolean): HTMLElement {
    const row = el('div', { class: 'bookstore-version', 'data-id': version.id },
      el('div', { class: 'bookstore-version-meta' },
        el('span', { class: 'bookstore-version-time' },
          current ? 'Current version' : formatTime(version.created)),
        el('span', { class: 'bookstore-version-size' }, formatSize(version.size))));
    if (!current) {
      const actions = el('div', { class: 'bookstore-version-actions' });
      for (const [label, title, action] of [
        ['View', 'Show this version', () => this._view(version)],
        ['Diff', 'Compare this version with the current one', () => this._diff(version)],
        ['Restore', 'Make this the current version again', () => this._restore(version)]
      ] as [string, string, () => Promise<void>][]) {
        const button = el('button', {
          class: `jp-mod-styled bookstore-version-${label.toLowerCase()}`, title
        }, label);
        button.addEventListener('click', () => void action());
        actions.append(button);
      }
      row.append(actions);
    }
    return row;
  }

  private async _view(version: IVersion): Promise<void> {
    const context = this._context;
    if (!context) {
      return;
    }
    try {
      const got = await api.version(context.path, version.id);
      const heading = el('h4', {}, `As of ${formatTime(version.created)}`);
      if (got.type === 'notebook') {
        const cells = (got.content.cells ?? []).map((cell: any) =>
          el('div', { class: `bookstore-cell bookstore-cell-${cell.cell_type}` },
            el('pre', {}, Array.isArray(cell.source) ? cell.source.join('') : cell.source)));
        this._detail.replaceChildren(heading, ...cells);
      } else {
        const text = got.format === 'text' ? got.content : '(binary file)';
        this._detail.replaceChildren(heading, el('pre', {}, text));
      }
      this._detail.dataset.shows = `view:${version.id}`;
    } catch (error) {
      this._fail(error);
    }
  }

  private async _diff(version: IVersion): Promise<void> {
    const context = this._context;
    if (!context) {
      return;
    }
    try {
      const diff = await api.diff(context.path, version.id);
      const changed = diff.cells.filter(c => c.status !== 'unchanged').length;
      this._detail.replaceChildren(
        el('h4', {}, `${formatTime(version.created)} → now: ${changed} cell(s) changed`),
        ...diff.cells.map(renderCell));
      this._detail.dataset.shows = `diff:${version.id}`;
    } catch (error) {
      this._fail(error);
    }
  }

  private async _restore(version: IVersion): Promise<void> {
    const context = this._context;
    if (!context) {
      return;
    }
    const unsaved = context.model.dirty ? ' Unsaved changes in the editor are lost.' : '';
    const answer = await showDialog({
      title: 'Restore this version?',
      body: `${context.path} goes back to ${formatTime(version.created)}. The current ` +
        `version stays in the history, so this can be undone.${unsaved}`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Restore' })]
    });
    if (!answer.button.accept) {
      return;
    }
    try {
      await api.restore(context.path, version.id);
      await context.revert(); // reload the editor from the restored file
      await this.refresh();
    } catch (error) {
      this._fail(error);
    }
  }

  private _fail(error: unknown): void {
    this._error.textContent = error instanceof Error ? error.message : String(error);
  }

  private _context: DocumentRegistry.Context | null = null;
  private _later = 0;
  private _title = document.createElement('div');
  private _error = document.createElement('div');
  private _list = document.createElement('div');
  private _detail = document.createElement('div');
}

function renderCell(cell: ICellChange): HTMLElement {
  const label = cell.status === 'modified' && cell.changes.length
    ? `modified (${cell.changes.join(', ')})` : cell.status;
  const lines = cell.lines.map(line => {
    const kind = line.startsWith('+') ? 'add' : line.startsWith('-') ? 'del'
      : line.startsWith('@@') ? 'hunk' : 'ctx';
    return el('div', { class: `bookstore-diff-${kind}` }, line || ' ');
  });
  return el('div', { class: `bookstore-diff-cell bookstore-diff-${cell.status}` },
    el('div', { class: 'bookstore-diff-label' }, `${cell.cell_type} · ${label}`),
    el('pre', {}, ...lines));
}
