/**
 * The app's Home tab. Showing it tells the server the user opened it (`app_home_opened`), once per
 * showing and acting user; the app answers with views.publish and the next state carries the view.
 */
import { useEffect, useState } from 'react';
import { type ConsoleView, describeError, post } from './api.ts';
import { BlockKit, type Directory } from './block-kit.tsx';

interface Props {
  view: ConsoleView | undefined;
  user: string;
  botName: string;
  directory: Directory;
}

export function HomeTab({ view, user, botName, directory }: Props) {
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setError(null);
    void post('/console/home', { user }).then((a) => {
      if (!a.ok) setError(`Opening the Home tab failed: ${describeError(a)}`);
    });
  }, [user]);

  const onAction = (actionId: string) => {
    if (!view) return;
    void post('/console/view-click', { viewId: view.id, actionId, user }).then((a) => {
      setError(a.ok ? null : `The click failed: ${describeError(a)}`);
    });
  };

  return (
    <section className="home" aria-labelledby="home-title">
      <header className="pane-header">
        <h1 id="home-title">{botName} · Home</h1>
      </header>
      <div className="home-body">
        {error && (
          <p className="field-error" role="alert">
            {error}
          </p>
        )}
        {view ? (
          <BlockKit blocks={view.view.blocks} onAction={onAction} directory={directory} />
        ) : (
          <p className="empty">The app has not published a Home tab for this user yet.</p>
        )}
      </div>
    </section>
  );
}
