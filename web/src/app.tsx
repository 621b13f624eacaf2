/** The dashboard's shell: header, navigation (only the pages the caller's roles allow), the page. */
import { Alerts } from './pages/alerts.tsx';
import { Audit } from './pages/audit.tsx';
import { Inventory } from './pages/inventory-route.tsx';
import { Overview } from './pages/overview.tsx';
import { Replication } from './pages/replication.tsx';
import { Streams } from './pages/streams.tsx';
import { Tiering } from './pages/tiering.tsx';
import { useEffect, useState } from 'react';
import { Link, PAGES, pageAt, usePath, type PageInfo } from './router.ts';
import { useSession } from './session.tsx';

function Page({ page }: { readonly page: PageInfo | undefined }) {
  if (page === undefined) {
    return (
      <div className="page">
        <h1>Not found</h1>
        <p>
          There is no page here. <Link to="/">Back to the overview</Link>.
        </p>
      </div>
    );
  }
  switch (page.id) {
    case 'overview':
      return <Overview />;
    case 'alerts':
      return <Alerts />;
    case 'inventory':
      return <Inventory />;
    case 'replication':
      return <Replication />;
    case 'policies':
      return <Tiering />;
    case 'streams':
      return <Streams />;
    case 'audit':
      return <Audit />;
    default:
      return (
        <div className="page">
          <h1>{page.title}</h1>
        </div>
      );
  }
}

export function App() {
  const { me, signOut } = useSession();
  const path = usePath();
  const current = pageAt(path);
  const [signingOut, setSigningOut] = useState(false);
  const offered = PAGES.filter((p) => p.needs === undefined || me.can[p.needs]);

  useEffect(() => {
    document.title = `${current?.title ?? 'Not found'} — MovingData`;
  }, [current]);

  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">MovingData</span>
        <nav aria-label="Pages">
          <ul>
            {offered.map((p) => (
              <li key={p.id}>
                <Link to={p.path} aria-current={current?.id === p.id ? 'page' : undefined}>
                  {p.title}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span>
            Signed in as <strong>{me.name}</strong> <span className="muted">({me.roles.join(', ')})</span>
          </span>
          <button
            type="button"
            className="secondary"
            disabled={signingOut}
            onClick={() => {
              setSigningOut(true);
              void signOut().catch(() => setSigningOut(false));
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Page page={current} />
      </main>
    </>
  );
}
