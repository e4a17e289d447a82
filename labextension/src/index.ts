// Bookstore for JupyterLab 4 (and Notebook 7): Share… and Version history.
//
// Asks the server what it offers first (GET /bookstore/): on a server where Bookstore
// is not the contents manager, or whose store cannot make links, nothing is added.
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { historyIcon, shareIcon, ToolbarButton } from '@jupyterlab/ui-components';

import { api, IStatus } from './api';
import { HistoryPanel } from './history';
import { showShareDialog } from './share';

const SHARE = 'bookstore:share';
const HISTORY = 'bookstore:history';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'bookstore:plugin',
  description: 'Share links and version history for notebooks kept in Swift or S3 by Bookstore',
  autoStart: true,
  optional: [INotebookTracker, IFileBrowserFactory, ICommandPalette],
  activate: async (
    app: JupyterFrontEnd,
    notebooks: INotebookTracker | null,
    browsers: IFileBrowserFactory | null,
    palette: ICommandPalette | null
  ) => {
    let status: IStatus;
    try {
      status = await api.status();
    } catch (error) {
      console.info('Bookstore is not serving this server\'s contents:', error);
      return;
    }
    const sharing = status.sharing;
    const currentPath = () => notebooks?.currentWidget?.context.path;
    const selectedPath = () => {
      const item = browsers?.tracker.currentWidget?.selectedItems().next();
      return item && !item.done && item.value.type !== 'directory' ? item.value.path : undefined;
    };

    // What Share… shares: the path it is given, else the file browser's selection when
    // run from there, else the current notebook, else (Notebook 7's file browser page,
    // which has no notebook) the selection.
    const sharePath = (args: { path?: unknown; from?: unknown }) =>
      (args.path as string | undefined) ??
      (args.from === 'filebrowser' ? selectedPath() : currentPath() ?? selectedPath());

    if (sharing) {
      app.commands.addCommand(SHARE, {
        label: 'Share…',
        caption: 'Links to this file that work for anyone, without Jupyter',
        icon: shareIcon,
        isEnabled: args => !!sharePath(args),
        execute: async args => {
          const path = sharePath(args);
          if (path) {
            await showShareDialog(path, sharing);
          }
        }
      });
      app.contextMenu.addItem({
        command: SHARE,
        args: { from: 'filebrowser' },
        selector: '.jp-DirListing-item[data-isdir="false"]',
        rank: 3
      });
      palette?.addItem({ command: SHARE, category: 'Bookstore' });
    } else if (status.sharing_unavailable) {
      console.info('Bookstore: no share links here:', status.sharing_unavailable);
    }

    // Notebook 7 runs each page as its own app: only its notebook page can show a
    // notebook's versions (elsewhere the panel would stay empty). JupyterLab: ''.
    const page = PageConfig.getOption('notebookPage');
    let history: HistoryPanel | null = null;
    if (status.history && notebooks && (!page || page === 'notebooks')) {
      const panel = (history = new HistoryPanel());
      app.shell.add(panel, 'right', { rank: 900 });
      notebooks.currentChanged.connect((_, current) => panel.follow(current?.context ?? null));
      panel.follow(notebooks.currentWidget?.context ?? null);
      app.commands.addCommand(HISTORY, {
        label: 'Version history',
        caption: 'Earlier versions of this notebook: view, compare, restore',
        icon: historyIcon,
        execute: () => app.shell.activateById(panel.id)
      });
      palette?.addItem({ command: HISTORY, category: 'Bookstore' });
    }

    app.docRegistry.addWidgetExtension('Notebook', {
      createNew: (panel: NotebookPanel) => {
        const buttons: [string, ToolbarButton][] = [];
        if (sharing) {
          buttons.push(['bookstore-share', new ToolbarButton({
            icon: shareIcon,
            label: 'Share…',
            tooltip: 'Share a link to this notebook',
            onClick: () => void app.commands.execute(SHARE, { path: panel.context.path })
          })]);
        }
        if (history) {
          buttons.push(['bookstore-history', new ToolbarButton({
            icon: historyIcon,
            tooltip: 'Version history',
            onClick: () => void app.commands.execute(HISTORY)
          })]);
        }
        // Before the spacer that pushes the kernel indicators to the right, if there is one.
        const names = Array.from(panel.toolbar.names());
        const spacer = names.indexOf('spacer');
        buttons.forEach(([name, button], n) => {
          panel.toolbar.insertItem(spacer < 0 ? names.length + n : spacer + n, name, button);
        });
      }
    });
  }
};

export default plugin;
